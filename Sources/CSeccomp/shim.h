// Macro constants of libseccomp that Swift cannot import. No logic.
#include <seccomp.h>
#include <linux/audit.h>

static inline uint32_t roprof_scmp_act_trace(uint16_t data) { return SCMP_ACT_TRACE(data); }
static inline uint32_t roprof_scmp_act_errno(uint16_t e) { return SCMP_ACT_ERRNO(e); }
static const uint32_t roprof_scmp_act_allow = SCMP_ACT_ALLOW;
static const uint32_t roprof_scmp_act_log = SCMP_ACT_LOG;
static const uint32_t roprof_scmp_act_kill_process = SCMP_ACT_KILL_PROCESS;
static const uint32_t roprof_scmp_arch_native = SCMP_ARCH_NATIVE;
static const uint32_t roprof_scmp_arch_x86_64 = SCMP_ARCH_X86_64;
static const uint32_t roprof_scmp_arch_x86 = SCMP_ARCH_X86;
static const uint32_t roprof_scmp_arch_x32 = SCMP_ARCH_X32;
static const uint32_t roprof_scmp_arch_aarch64 = SCMP_ARCH_AARCH64;
static const uint32_t roprof_scmp_arch_arm = SCMP_ARCH_ARM;
static const uint32_t roprof_scmp_arch_riscv64 = SCMP_ARCH_RISCV64;
static const uint32_t roprof_scmp_arch_s390x = SCMP_ARCH_S390X;
static const uint32_t roprof_scmp_arch_ppc64le = SCMP_ARCH_PPC64LE;
static const int roprof_scmp_error = __NR_SCMP_ERROR;

// glibc declares this only under _GNU_SOURCE; used to receive the exported BPF.
int memfd_create(const char *name, unsigned int flags);
