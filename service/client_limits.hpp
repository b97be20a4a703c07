#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "runtime/address.hpp"

namespace ringline::service {

/// The sessions each client address holds, for --max-connections-per-ip: one table for the
/// servers of every loop thread, so the limit is exact whichever thread accepts.
///
/// An address is the host only (the port is ignored); an IPv4 address and its IPv4-mapped
/// IPv6 form (`::ffff:a.b.c.d`, what a dual-stack listener sees) are the same client. The
/// table holds only addresses with a session open, so it never outgrows --max-connections.
/// Touched once when a session starts and once when it ends, never per line: the table is cut
/// into shards, each behind its own mutex, so that threads accepting at once rarely meet.
/// Any thread may call any member.
class client_limits {
  // The host's 16 bytes: IPv6 as it is, IPv4 in its IPv4-mapped form.
  using key = std::array<std::uint8_t, 16>;
  struct key_hash {
    std::size_t operator()(const key& host) const noexcept;
  };
  using table = std::unordered_map<key, std::size_t, key_hash>;

 public:
  /// One address's entry (its host and its session count); what take() returns and release()
  /// gives back. It stays where it is in memory while it is in the table (std::unordered_map
  /// never moves its nodes). Opaque to callers.
  using slot = table::value_type;

  client_limits() = default;
  client_limits(const client_limits&) = delete;
  client_limits& operator=(const client_limits&) = delete;

  /// Counts one more session for `client`'s address and returns its slot; returns null,
  /// counting nothing, when the address holds `most` (at least 1) sessions already. Throws
  /// bad_alloc when a new address finds no memory for its entry.
  [[nodiscard]] slot* take(const runtime::address& client, std::size_t most);

  /// Counts one session of `taken` (from take(), not null) as ended; the entry goes when the
  /// address's last session has.
  void release(slot* taken) noexcept;

  /// Returns how many sessions `client`'s address holds (for tests and diagnostics).
  [[nodiscard]] std::size_t count(const runtime::address& client) const;

 private:
  // No alignas to a cache line: the server that holds this table lives in a coroutine frame,
  // and frames get only operator new's alignment (16), so an over-aligned member would be
  // misaligned there (UBSan: constructor call on misaligned address). Shards are touched once
  // per accept, where sharing a line costs nothing measurable.
  struct shard {
    mutable std::mutex lock;
    table sessions;
  };
  static constexpr std::size_t k_shards = 16;

  static key key_of(const runtime::address& client) noexcept;
  shard& shard_of(const key& host) noexcept;
  const shard& shard_of(const key& host) const noexcept;

  std::array<shard, k_shards> m_shards;
};

}  // namespace ringline::service
