#pragma once

#include <exception>
#include <string_view>

#include "service/session.hpp"
#include "service/session_ending.hpp"

namespace ringline::service {

/// Logs the `connect` line of a greeted session (peer_text names the client). Throws
/// bad_alloc when there is no memory to format it; the caller's session then ends with an
/// internal error, as for any allocation that fails inside a session.
void log_connect(const session& state);

/// Logs the `disconnect` line of a session that ends for `why`, with the lines it acked.
/// Without memory to format it, logs a short fixed line instead.
void log_disconnect(const session& state, ending why);

/// Logs a connection refused for its PROXY header, with the TCP peer (the load balancer, or
/// whoever connected without one): the one line such a connection gets, whatever --quiet
/// says, since it means a misconfigured balancer or a client going around it.
void log_proxy_refusal(const session& state, std::string_view reason) noexcept;

/// Logs the exception that ended one session; never throws (it may be bad_alloc).
void log_internal_error(std::exception_ptr error) noexcept;

}  // namespace ringline::service
