// Each operation as an SQE.
#include <poll.h>

#include <algorithm>
#include <limits>

#include "runtime/uring/ring.hpp"

namespace ringline::runtime::detail {

void uring_backend::start(io_request& request) {
  io_uring_sqe* sqe = acquire_sqe();
  char* data = request.m_data + request.m_done;
  // One submission moves at most 4 GiB - 1; sends and writes resubmit for the rest.
  const auto remaining = static_cast<unsigned>(std::min<std::size_t>(
      request.m_size - request.m_done, std::numeric_limits<unsigned>::max()));
  const int fd = request.m_fd;
  switch (request.m_kind) {
    case io_kind::accept:
      request.m_address_size = static_cast<socklen_t>(request.m_size);
      io_uring_prep_accept(sqe, fd, reinterpret_cast<sockaddr*>(request.m_data),
                           &request.m_address_size, request.m_msg_flags);
      break;
    case io_kind::accept_multishot:
      io_uring_prep_multishot_accept(sqe, fd, nullptr, nullptr, request.m_msg_flags);
      break;
    case io_kind::recv:
      io_uring_prep_recv(sqe, fd, data, remaining, request.m_msg_flags);
      break;
    case io_kind::send:
      io_uring_prep_send(sqe, fd, data, remaining, request.m_msg_flags | MSG_NOSIGNAL);
      break;
    case io_kind::read:
      // Offset -1: the file's current position, so pipes, terminals and files all work.
      io_uring_prep_read(sqe, fd, data, remaining, static_cast<__u64>(-1));
      break;
    case io_kind::write:
      io_uring_prep_write(sqe, fd, data, remaining, static_cast<__u64>(-1));
      sqe->rw_flags = static_cast<__kernel_rwf_t>(request.m_msg_flags);  // RWF_* for writes
      break;
    case io_kind::connect:
      io_uring_prep_connect(sqe, fd, reinterpret_cast<sockaddr*>(request.m_data),
                            request.m_address_size);
      break;
    case io_kind::close:
      io_uring_prep_close(sqe, fd);
      break;
    case io_kind::poll:
      io_uring_prep_poll_add(sqe, fd, POLLIN);
      break;
    case io_kind::datasync:
      io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
      break;
    case io_kind::recv_pooled:
      io_uring_prep_recv(sqe, fd, nullptr, remaining, 0);
      io_uring_sqe_set_flags(sqe, IOSQE_BUFFER_SELECT);
      sqe->buf_group = request.m_buffer_group;
      break;
    case io_kind::sleep:
      // The kernel copies the timespec while preparing the request, at submission.
      io_uring_prep_timeout(sqe, reinterpret_cast<__kernel_timespec*>(request.m_data), 0, 0);
      break;
  }
  io_uring_sqe_set_data(sqe, static_cast<operation*>(&request));
}

}  // namespace ringline::runtime::detail
