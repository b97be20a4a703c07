#include "runtime/resolve.hpp"

#include <netdb.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "runtime/error.hpp"

namespace ringline::runtime {

namespace {

class resolver_error_category final : public std::error_category {
 public:
  [[nodiscard]] const char* name() const noexcept override { return "getaddrinfo"; }
  [[nodiscard]] std::string message(int code) const override { return ::gai_strerror(code); }
};

struct addrinfo_deleter {
  void operator()(addrinfo* list) const noexcept { ::freeaddrinfo(list); }
};

bool same(const address& a, const address& b) noexcept {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

const std::error_category& resolver_category() noexcept {
  static const resolver_error_category category;
  return category;
}

result<std::vector<address>> resolve(std::string_view host, std::uint16_t port) {
  if (host.empty()) {
    return std::errc::invalid_argument;
  }
  // A literal never goes to getaddrinfo: with a name server configured but unreachable, even
  // a numeric host could otherwise wait on DNS (glibc tries it before giving up on odd forms).
  if (auto literal = address::parse(host, port)) {
    return std::vector<address>{*literal};
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = 0;  // not AI_ADDRCONFIG: it hides ::1 when loopback is the only interface
  const std::string name(host);
  addrinfo* found = nullptr;
  const int status = ::getaddrinfo(name.c_str(), nullptr, &hints, &found);
  if (status == EAI_SYSTEM) {
    return errno != 0 ? last_errno() : std::make_error_code(std::errc::io_error);
  }
  if (status != 0) {
    return std::error_code(status, resolver_category());
  }
  const std::unique_ptr<addrinfo, addrinfo_deleter> owner(found);
  std::vector<address> addresses;
  for (const addrinfo* each = found; each != nullptr; each = each->ai_next) {
    auto one = address::from_sockaddr(each->ai_addr, each->ai_addrlen);
    if (one.family() == AF_UNSPEC) {
      continue;
    }
    one.set_port(port);  // getaddrinfo was given no service, so its ports are zero
    if (std::none_of(addresses.begin(), addresses.end(),
                     [&one](const address& seen) { return same(seen, one); })) {
      addresses.push_back(one);
    }
  }
  if (addresses.empty()) {
    return std::error_code(EAI_NONAME, resolver_category());
  }
  return addresses;
}

}  // namespace ringline::runtime
