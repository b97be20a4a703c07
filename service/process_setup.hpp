#pragma once

#include <cstddef>
#include <string>

namespace ringline::service {

/// Opens /dev/null on each of descriptors 0, 1 and 2 that is closed. Call first thing in main:
/// otherwise the next descriptor opened (the signalfd, the ring, a client's socket) would take
/// the number, and lines meant for stdout or the log would go there.
void ensure_standard_descriptors() noexcept;

/// What raise_descriptor_limit() could do.
struct descriptor_budget {
  /// Connections the descriptor limit allows: `wanted` when it could be raised far enough.
  std::size_t connections;
  /// Empty when the limit was high enough or could be raised; otherwise one log line saying
  /// how far it got and what that means for --max-connections.
  std::string warning;
};

/// Raises the soft RLIMIT_NOFILE towards what `wanted` connections need (one descriptor each
/// plus a reserve for listeners, the sink, the ring and signals), up to the hard limit, as
/// redis does, and returns how many connections the result allows. `extra` descriptors are
/// reserved besides (those of the loop threads beyond the first).
descriptor_budget raise_descriptor_limit(std::size_t wanted, std::size_t extra = 0) noexcept;

}  // namespace ringline::service
