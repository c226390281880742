/* bench-ctxsw for 32-bit protected mode: 16 address spaces under 32-bit (2-level) paging. */
#define BENCH_NAME "bench-ctxsw32"
#include "bench-ctxsw.c"
