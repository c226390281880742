/*
 * cvmm: the smallest VMM that can run a flat real-mode guest on /dev/kvm, written in C as the
 * baseline for @kvm/host's benchmark. It does exactly what the Node side does per exit:
 * KVM_RUN, look at kvm_run->exit_reason, count it, run again; so the ratio of the two figures
 * is the cost of crossing into JavaScript and back.
 *
 *   cc -O2 -o cvmm cvmm.c
 *   cvmm GUEST.bin [LOAD_GPA=0x1000]
 *
 * The guest is loaded at LOAD_GPA in a 1 MiB slot at gpa 0 and starts there in real mode
 * (CS = 0, IP = LOAD_GPA). The run ends at HLT. Prints one JSON line:
 *   {"exits":N,"ioExits":N,"seconds":S,"userSeconds":U,"exitsPerSecond":R,"rax":N}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define GUEST_RAM_SIZE (1u << 20)

static void die(const char *what) {
  fprintf(stderr, "cvmm: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* User-mode CPU seconds of this process: what the VMM itself costs per exit, apart from the
 * kernel's and the guest's time, and much less disturbed by other load on the machine. */
static double user_seconds(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cvmm GUEST.bin [LOAD_GPA]\n");
    return 2;
  }
  uint64_t load_gpa = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x1000;

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) die("open /dev/kvm");
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) die("KVM_GET_API_VERSION");
  int vm = ioctl(kvm, KVM_CREATE_VM, 0);
  if (vm < 0) die("KVM_CREATE_VM");

  uint8_t *ram = mmap(NULL, GUEST_RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (ram == MAP_FAILED) die("mmap guest RAM");
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) die(argv[1]);
  size_t n = fread(ram + load_gpa, 1, GUEST_RAM_SIZE - load_gpa, f);
  fclose(f);
  if (n == 0) die("empty guest");

  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = GUEST_RAM_SIZE, .userspace_addr = (uint64_t)ram};
  if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");
  int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0) die("KVM_CREATE_VCPU");
  int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < 0) die("KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) die("mmap kvm_run");

  struct kvm_sregs sregs;
  if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
  struct kvm_regs regs = {.rip = load_gpa, .rflags = 0x2};
  if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");

  uint64_t exits = 0, io_exits = 0;
  double start = now();
  double user_start = user_seconds();
  for (;;) {
    if (ioctl(vcpu, KVM_RUN, 0) < 0) die("KVM_RUN");
    exits++;
    if (run->exit_reason == KVM_EXIT_IO) {
      io_exits++;
      continue;
    }
    if (run->exit_reason == KVM_EXIT_HLT) break;
    fprintf(stderr, "cvmm: unexpected exit reason %u\n", run->exit_reason);
    return 1;
  }
  double seconds = now() - start;
  double user = user_seconds() - user_start;
  if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0) die("KVM_GET_REGS");
  printf("{\"exits\":%llu,\"ioExits\":%llu,\"seconds\":%.6f,\"userSeconds\":%.6f,"
         "\"exitsPerSecond\":%.1f,\"rax\":%llu}\n",
         (unsigned long long)exits, (unsigned long long)io_exits, seconds, user, (double)exits / seconds,
         (unsigned long long)regs.rax);
  return 0;
}
