#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

#include "protocol/messages.hpp"

namespace ringline::client {

/// How `ringline-client bench` loads a server.
struct bench_options {
  /// An IP literal or a name, resolved once before the threads start.
  std::string host = "127.0.0.1";
  std::uint16_t port = 10008;
  /// Connections held open, split as evenly as possible across the threads.
  std::size_t connections = 50;
  /// Requests in flight on each connection (closed loop: a reply lets the next one go).
  std::size_t pipeline = 1;
  /// How long to send new requests, when `lines` is 0; the replies owed are then awaited.
  std::chrono::milliseconds duration{5'000};
  /// Requests in total over all connections; 0 runs for `duration` instead.
  std::uint64_t lines = 0;
  /// A connection storm: each connection closes after this many replies and connects again
  /// (reading the greeting again when `greeting`); 0 keeps every connection for the run.
  std::uint64_t lines_per_connection = 0;
  /// Worker threads, each with its own event loop.
  std::size_t threads = 1;
  /// One request line, without its terminator.
  std::string payload{protocol::default_message};
  /// True for a ringline server: read the greeting first, and count every reply line other
  /// than the ack as unexpected. False for other servers: no greeting, any line is a reply.
  bool greeting = true;
  /// Ends requests with "\r\n" rather than "\n" (redis, memcached).
  bool crlf = false;
  /// Prints one JSON object instead of the table.
  bool json = false;
  /// Longest wait for each connect and greeting, and longest time without any reply while
  /// replies are owed before the run gives up on the connections still waiting.
  std::chrono::milliseconds stall_timeout{10'000};
};

}  // namespace ringline::client
