/**
 * The KVM API version this package speaks. `<linux/kvm.h>` has said 12 since Linux 2.6.22 and
 * the kernel promises never to change it (new behaviour comes as capabilities instead). Checked
 * at run time against KVM_GET_API_VERSION by `openKvm`.
 */
export const KVM_API_VERSION = 12;
