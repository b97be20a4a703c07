#pragma once

#include "runtime/unique_fd.hpp"

namespace ringline::test_support {

/// The runtime's descriptor owner. It is header-only and plain POSIX, so the test support
/// library uses it without depending on the ring.
using runtime::unique_fd;

}  // namespace ringline::test_support
