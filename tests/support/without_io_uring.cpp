// Runs a program with io_uring refused, the way container seccomp profiles and kernels refuse
// it: `ringline-without-io-uring EPERM|ENOSYS|EMFILE program args...`.
//
// EPERM is what Docker 25+ and containerd 2.0 (Kubernetes' RuntimeDefault) answer, ENOSYS what
// Podman's default profile and a kernel without io_uring answer. Like those profiles, the filter
// refuses all three io_uring syscalls, not only io_uring_setup, so a program cannot get past a
// refused setup with a ring it did not make. libseccomp builds the filter for the machine's
// architecture (the syscall numbers and the audit arch check), as the container runtimes do.
#include <seccomp.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  int error = 0;
  if (argc >= 3 && std::strcmp(argv[1], "EPERM") == 0) {
    error = EPERM;
  } else if (argc >= 3 && std::strcmp(argv[1], "ENOSYS") == 0) {
    error = ENOSYS;
  } else if (argc >= 3 && std::strcmp(argv[1], "EMFILE") == 0) {
    error = EMFILE;  // not a refusal: a resource error, which must be reported, not avoided
  } else {
    (void)std::fprintf(stderr, "usage: %s EPERM|ENOSYS|EMFILE program [args...]\n", argv[0]);
    return 2;
  }

  // Everything else is allowed; seccomp_load() sets no_new_privs itself (SCMP_FLTATR_CTL_NNP
  // is on by default), which an unprivileged process needs to install a filter.
  scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
  if (filter == nullptr) {
    (void)std::fprintf(stderr, "%s: seccomp_init failed\n", argv[0]);
    return 125;
  }
  const int syscalls[] = {SCMP_SYS(io_uring_setup), SCMP_SYS(io_uring_enter),
                          SCMP_SYS(io_uring_register)};
  int rc = 0;
  for (const int syscall : syscalls) {
    if (rc == 0) {
      rc = seccomp_rule_add(filter, SCMP_ACT_ERRNO(static_cast<unsigned>(error)), syscall, 0);
    }
  }
  if (rc == 0) {
    rc = seccomp_load(filter);
  }
  seccomp_release(filter);
  if (rc != 0) {
    // libseccomp returns a negated errno.
    (void)std::fprintf(stderr, "%s: seccomp: %s\n", argv[0], std::strerror(-rc));
    return 125;
  }
  execv(argv[2], argv + 2);
  std::perror("execv");
  return 127;
}
