/*
 * Which encodings are #UD on this machine's CPU: each input line is an instruction's bytes in hex;
 * a child process runs them (RBX = RDI = a 64-byte aligned buffer) and the line printed is "ud"
 * for SIGILL, "ok" when it ran, or "sig N" for another signal. Built by sse-int-ud.test.ts.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

static unsigned char *page;
static char buf[256] __attribute__((aligned(64)));

int main(void) {
  page = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) return 2;
  char line[256];
  while (fgets(line, sizeof line, stdin)) {
    int n = 0;
    for (char *h = line; h[0] && h[1] && h[0] != '\n'; h += 2) {
      unsigned v;
      sscanf(h, "%2x", &v);
      page[n++] = (unsigned char)v;
    }
    page[n] = 0xc3;
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
      __asm__ volatile("mov %0, %%rbx\n mov %0, %%rdi\n call *%1\n emms"
                       :
                       : "r"(buf + 64), "r"(page)
                       : "rbx", "rdi", "rax", "rcx", "rdx", "rsi", "r8", "r9", "r10", "r11", "memory", "cc",
                         "xmm0", "xmm1", "xmm2", "xmm3");
      _exit(0);
    }
    int st;
    waitpid(p, &st, 0);
    if (WIFSIGNALED(st)) {
      if (WTERMSIG(st) == 4) printf("ud\n");
      else printf("sig %d\n", WTERMSIG(st));
    } else printf("ok\n");
  }
  return 0;
}
