#include "runtime/socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "runtime/error.hpp"

namespace ringline::runtime {

namespace {
result<void> set_flag(int fd, int level, int name) {
  const int on = 1;
  if (::setsockopt(fd, level, name, &on, sizeof on) != 0) {
    return last_errno();
  }
  return {};
}
}  // namespace

result<unique_fd> open_tcp_socket(int family) {
  unique_fd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd) {
    return last_errno();
  }
  return fd;
}

result<unique_fd> listen_tcp(const address& where, listen_options options) {
  auto fd = open_tcp_socket(where.family());
  if (!fd) {
    return fd.error();
  }
  // SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT.
  if (auto set = set_flag(fd->get(), SOL_SOCKET, SO_REUSEADDR); !set) {
    return set.error();
  }
  if (options.reuse_port) {
    if (auto set = set_flag(fd->get(), SOL_SOCKET, SO_REUSEPORT); !set) {
      return set.error();
    }
  }
  if (::bind(fd->get(), where.data(), where.size()) != 0) {
    return last_errno();
  }
  if (::listen(fd->get(), options.backlog) != 0) {
    return last_errno();
  }
  return std::move(*fd);
}

result<address> local_address(int fd) {
  address where;
  socklen_t size = sizeof(sockaddr_storage);
  if (::getsockname(fd, where.data(), &size) != 0) {
    return last_errno();
  }
  return address::from_sockaddr(where.data(), size);
}

result<address> peer_address(int fd) {
  address where;
  socklen_t size = sizeof(sockaddr_storage);
  if (::getpeername(fd, where.data(), &size) != 0) {
    return last_errno();
  }
  return address::from_sockaddr(where.data(), size);
}

result<void> set_no_delay(int fd) {
  return set_flag(fd, IPPROTO_TCP, TCP_NODELAY);
}

result<void> shutdown_write(int fd) {
  if (::shutdown(fd, SHUT_WR) != 0) {
    return last_errno();
  }
  return {};
}

}  // namespace ringline::runtime
