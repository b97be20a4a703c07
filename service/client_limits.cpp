#include "service/client_limits.hpp"

#include <netinet/in.h>

#include <cstring>

namespace ringline::service {

std::size_t client_limits::key_hash::operator()(const key& host) const noexcept {
  // Two halves mixed by multiplication (splitmix64's finaliser): cheap, and the shard index
  // (the low bits) depends on every byte, so one subnet does not crowd a single shard.
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  std::memcpy(&high, host.data(), sizeof high);
  std::memcpy(&low, host.data() + sizeof high, sizeof low);
  std::uint64_t mixed = high ^ (low * 0x9e3779b97f4a7c15ULL);
  mixed = (mixed ^ (mixed >> 30U)) * 0xbf58476d1ce4e5b9ULL;
  mixed = (mixed ^ (mixed >> 27U)) * 0x94d049bb133111ebULL;
  return static_cast<std::size_t>(mixed ^ (mixed >> 31U));
}

client_limits::key client_limits::key_of(const runtime::address& client) noexcept {
  key out{};
  if (client.family() == AF_INET6) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(client.data());
    std::memcpy(out.data(), &v6->sin6_addr, out.size());
  } else if (client.family() == AF_INET) {
    // ::ffff:a.b.c.d, as a dual-stack listener reports the same client.
    const auto* v4 = reinterpret_cast<const sockaddr_in*>(client.data());
    out[10] = 0xff;
    out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4->sin_addr, 4);
  }
  // Anything else (no TCP connection has it) is `::`, counted like any address.
  return out;
}

client_limits::shard& client_limits::shard_of(const key& host) noexcept {
  return m_shards[key_hash{}(host) % k_shards];
}

const client_limits::shard& client_limits::shard_of(const key& host) const noexcept {
  return m_shards[key_hash{}(host) % k_shards];
}

client_limits::slot* client_limits::take(const runtime::address& client, std::size_t most) {
  const key host = key_of(client);
  auto& where = shard_of(host);
  const std::scoped_lock held(where.lock);
  // try_emplace allocates only for an address not in the table.
  const auto entry = where.sessions.try_emplace(host, 0).first;
  if (entry->second >= most) {
    return nullptr;  // an address at its limit is in the table: nothing was added
  }
  ++entry->second;
  return &*entry;
}

void client_limits::release(slot* taken) noexcept {
  // A copy: erase() must not be handed a key that lives in the node it destroys.
  const key host = taken->first;
  auto& where = shard_of(host);
  const std::scoped_lock held(where.lock);
  if (--taken->second == 0) {
    where.sessions.erase(host);
  }
}

std::size_t client_limits::count(const runtime::address& client) const {
  const key host = key_of(client);
  const auto& where = shard_of(host);
  const std::scoped_lock held(where.lock);
  const auto found = where.sessions.find(host);
  return found == where.sessions.end() ? 0 : found->second;
}

}  // namespace ringline::service
