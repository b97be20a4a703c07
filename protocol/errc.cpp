#include "protocol/errc.hpp"

#include <string>

namespace ringline::protocol {
namespace {

class protocol_category_impl final : public std::error_category {
 public:
  const char* name() const noexcept override { return "ringline.protocol"; }

  std::string message(int value) const override {
    // line_too_long, idle_timeout, line_timeout, sink_failed and internal_error go on the wire
    // after "error: "; clients may match on them.
    switch (static_cast<errc>(value)) {
      case errc::line_too_long:
        return "line too long";
      case errc::idle_timeout:
        return "idle timeout";
      case errc::server_full:
        return "server full";
      case errc::unexpected_reply:
        return "unexpected reply";
      case errc::reply_too_long:
        return "reply too long";
      case errc::line_timeout:
        return "line timeout";
      case errc::sink_failed:
        return "sink failed";
      case errc::internal_error:
        return "internal error";
      case errc::sink_unavailable:
        return "sink unavailable";
      case errc::server_closed:
        return "server closed the connection";
    }
    return "unknown protocol error";
  }
};

}  // namespace

const std::error_category& protocol_category() noexcept {
  // A function-local static is initialised once, thread-safely, on first use; comparing
  // error codes relies on there being exactly one category object.
  static const protocol_category_impl category;
  return category;
}

std::error_code make_error_code(errc error) noexcept {
  return {static_cast<int>(error), protocol_category()};
}

}  // namespace ringline::protocol
