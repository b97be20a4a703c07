#pragma once

#include "runtime/address.hpp"
#include "runtime/result.hpp"
#include "runtime/unique_fd.hpp"

namespace ringline::runtime {

/// Options for listen_tcp.
struct listen_options {
  int backlog = 4096;
  /// SO_REUSEPORT, so that one listener per thread can share the address.
  bool reuse_port = false;
};

/// Creates a TCP socket bound to `where` and listening; returns the socket or the errno of
/// the step that failed (EADDRINUSE, EACCES, EADDRNOTAVAIL, ...). Port 0 picks a free port:
/// read it back with local_address.
result<unique_fd> listen_tcp(const address& where, listen_options options = {});

/// Creates an unconnected TCP socket of `family` (AF_INET or AF_INET6), close-on-exec.
result<unique_fd> open_tcp_socket(int family);

/// Returns the address a socket is bound to.
result<address> local_address(int fd);

/// Returns the address of a connected socket's peer.
result<address> peer_address(int fd);

/// Sets TCP_NODELAY: acks are small and must not wait for Nagle's algorithm.
result<void> set_no_delay(int fd);

/// Shuts down the sending side (a FIN to the peer); reading goes on.
result<void> shutdown_write(int fd);

}  // namespace ringline::runtime
