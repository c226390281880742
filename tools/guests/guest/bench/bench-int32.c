/* bench-int for 32-bit protected mode: the same workload and checksum, 32-bit (2-level) paging
 * over the working set, or none with paging=0 on the command line. */
#define BENCH_NAME "bench-int32"
#include "bench-int.c"
