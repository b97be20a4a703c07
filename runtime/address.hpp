#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "runtime/result.hpp"

namespace ringline::runtime {

/// An IPv4 or IPv6 socket address (host literal and port), stored as sockaddr_storage so it
/// can be handed to the kernel as it is.
class address {
 public:
  address() noexcept;

  /// Parses an IPv4 or IPv6 literal (`127.0.0.1`, `::1`, optionally `[::1]`) with `port`.
  /// Returns std::errc::invalid_argument for anything else; names are not resolved.
  static result<address> parse(std::string_view host, std::uint16_t port);

  /// Copies a kernel-filled socket address; an unknown family gives an empty address.
  static address from_sockaddr(const sockaddr* addr, socklen_t size) noexcept;

  [[nodiscard]] const sockaddr* data() const noexcept {
    return reinterpret_cast<const sockaddr*>(&m_storage);
  }
  [[nodiscard]] sockaddr* data() noexcept { return reinterpret_cast<sockaddr*>(&m_storage); }
  [[nodiscard]] socklen_t size() const noexcept { return m_size; }
  /// Returns AF_INET, AF_INET6, or AF_UNSPEC for an empty address.
  [[nodiscard]] int family() const noexcept { return m_storage.ss_family; }
  [[nodiscard]] std::uint16_t port() const noexcept;
  /// Sets the port of an IPv4 or IPv6 address; an empty address stays empty.
  void set_port(std::uint16_t port) noexcept;

  /// Returns the host literal, without brackets (`::1`).
  [[nodiscard]] std::string host() const;
  /// Returns `host:port`, with IPv6 hosts in brackets (`[::1]:10008`).
  [[nodiscard]] std::string to_string() const;

 private:
  sockaddr_storage m_storage;
  socklen_t m_size = 0;
};

/// Checks a port number's text for a command line: returns an empty string for a whole
/// number in 0..65535, otherwise the reason in words (`70000 is out of range 0..65535`).
[[nodiscard]] std::string check_port(std::string_view text);

}  // namespace ringline::runtime
