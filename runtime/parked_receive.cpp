#include "runtime/parked_receive.hpp"

#include <cassert>

namespace ringline::runtime {

parked_receive::parked_receive() noexcept : io_operation(detail::io_kind::recv_pooled, -1, {}) {
  m_on_complete = &on_complete;
}

void parked_receive::start(int fd, buffer_ring& pool, io_options options, callback done,
                           void* context) {
  assert((options.cancel == nullptr || !options.cancel->requested()) &&
         "a cancelled receive has nothing to wait for; do not park");
  rearm(fd, options);
  m_pool = &pool;
  m_size = pool.buffer_size();
  m_buffer_group = pool.group();
  m_callback = done;
  m_context = context;
  submit();
}

void parked_receive::on_complete(operation& self, int res, std::uint32_t flags) noexcept {
  auto& op = static_cast<parked_receive&>(static_cast<io_operation&>(self));
  if (!op.settle(res, flags)) {
    return;
  }
  op.m_callback(op, detail::pooled_outcome(op.outcome(), op.m_cqe_flags, *op.m_pool), op.m_context);
}

}  // namespace ringline::runtime
