/*
 * The layout referee: compiled against the machine's own <linux/kvm.h> by layout.test.ts,
 * which inserts one check per struct, field, ioctl and constant that @kvm/core defines at the
 * CHECKS marker below. Each check prints one line:
 *
 *   size   <struct> <sizeof>
 *   field  <struct> <member designator> <offsetof> <sizeof member>
 *   value  <macro> <value>          (ioctl numbers, capabilities, exit reasons, ...)
 *   missing <macro>                 (the header does not define it)
 */
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>

#define SIZE(T) printf("size %s %zu\n", #T, sizeof(struct T))
#define FIELD(T, F) printf("field %s %s %zu %zu\n", #T, #F, offsetof(struct T, F), sizeof(((struct T *)0)->F))
#define VALUE(M) printf("value %s %llu\n", #M, (unsigned long long)(M))
#define MISSING(M) printf("missing %s\n", #M)

int main(void) {
  /*@CHECKS@*/
  return 0;
}
