#pragma once

#include <cstdint>

namespace ringline::runtime::detail {

/// What a submitted SQE's user_data points at: the state of one in-flight operation.
///
/// The object lives in the frame of the coroutine that awaits the operation, so that frame
/// must not be destroyed until the operation's last completion (the one without
/// IORING_CQE_F_MORE) has been delivered. A function pointer rather than a virtual keeps the
/// type an aggregate with no vtable in every awaiter.
struct operation {
  /// Called by the event loop with each completion: `res` is cqe->res (a byte count, a
  /// descriptor, or -errno), `flags` is cqe->flags.
  using completion_fn = void (*)(operation& self, int res, std::uint32_t flags) noexcept;
  completion_fn m_on_complete = nullptr;
};

}  // namespace ringline::runtime::detail
