#include "runtime/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>
#include <limits>

namespace ringline::runtime {

address::address() noexcept {
  std::memset(&m_storage, 0, sizeof m_storage);
}

result<address> address::parse(std::string_view host, std::uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  // inet_pton needs a terminated string; literals are short, so a std::string is fine here.
  const std::string text(host);
  address result;
  sockaddr_in v4{};
  if (::inet_pton(AF_INET, text.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    std::memcpy(&result.m_storage, &v4, sizeof v4);
    result.m_size = sizeof v4;
    return result;
  }
  sockaddr_in6 v6{};
  if (::inet_pton(AF_INET6, text.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    std::memcpy(&result.m_storage, &v6, sizeof v6);
    result.m_size = sizeof v6;
    return result;
  }
  return std::errc::invalid_argument;
}

address address::from_sockaddr(const sockaddr* addr, socklen_t size) noexcept {
  address result;
  if (addr != nullptr && (addr->sa_family == AF_INET || addr->sa_family == AF_INET6) &&
      size <= sizeof result.m_storage) {
    std::memcpy(&result.m_storage, addr, size);
    result.m_size = size;
  }
  return result;
}

std::uint16_t address::port() const noexcept {
  if (family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&m_storage)->sin_port);
  }
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&m_storage)->sin6_port);
  }
  return 0;
}

void address::set_port(std::uint16_t port) noexcept {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&m_storage)->sin_port = htons(port);
  } else if (family() == AF_INET6) {
    reinterpret_cast<sockaddr_in6*>(&m_storage)->sin6_port = htons(port);
  }
}

std::string address::host() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&m_storage)->sin_addr, text,
                sizeof text);
  } else if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&m_storage)->sin6_addr, text,
                sizeof text);
  } else {
    return "?";
  }
  return text;
}

std::string address::to_string() const {
  // Built by append: GCC 12 at -O3 warns falsely (-Wrestrict) on "[" + host() + "]".
  std::string text;
  const bool bracket = family() == AF_INET6;
  if (bracket) {
    text.push_back('[');
  }
  text.append(host());
  if (bracket) {
    text.push_back(']');
  }
  text.push_back(':');
  text.append(std::to_string(port()));
  return text;
}

std::string check_port(std::string_view text) {
  unsigned long value = 0;
  const auto* const end = text.data() + text.size();
  const auto [rest, error] = std::from_chars(text.data(), end, value);
  const bool digits = !text.empty() && text.front() != '-' && rest == end;
  if (digits && error == std::errc{} && value <= std::numeric_limits<std::uint16_t>::max()) {
    return {};
  }
  // Built by append: GCC 12 at -O3 warns falsely (-Wrestrict) on "'" + text + "'".
  std::string reason;
  if (digits || (text.starts_with('-') && text.size() > 1 &&
                 text.find_first_not_of("0123456789", 1) == std::string_view::npos)) {
    reason.append(text).append(" is out of range 0..65535");
  } else {
    reason.append("'").append(text).append("' is not a port number (0..65535)");
  }
  return reason;
}

}  // namespace ringline::runtime
