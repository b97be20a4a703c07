#pragma once

#include <cstdint>
#include <string_view>
#include <system_error>
#include <vector>

#include "runtime/address.hpp"
#include "runtime/result.hpp"

namespace ringline::runtime {

/// Returns the category of getaddrinfo's EAI_* errors; messages come from gai_strerror
/// ("Name or service not known", ...).
[[nodiscard]] const std::error_category& resolver_category() noexcept;

/// Returns the addresses of `host` with `port`, most preferred first, without duplicates.
///
/// An IPv4 or IPv6 literal (`127.0.0.1`, `::1`, `[::1]`) is returned as it is and never
/// reaches a name server. A name (`localhost`) goes through getaddrinfo, which may block for
/// as long as DNS takes: call this once at start, never on a loop that serves others. The
/// order is getaddrinfo's (RFC 6724 preferences, /etc/gai.conf). AI_ADDRCONFIG is off, so
/// `localhost` also yields ::1 on a machine whose only interface is the loopback.
///
/// Errors: std::errc::invalid_argument for an empty host; a resolver_category() code when the
/// name does not resolve (EAI_NONAME, EAI_AGAIN, ...); the errno of EAI_SYSTEM.
result<std::vector<address>> resolve(std::string_view host, std::uint16_t port);

}  // namespace ringline::runtime
