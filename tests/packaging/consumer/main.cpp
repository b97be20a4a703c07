// Sends three lines to the ringline server on 127.0.0.1:<port> through the installed client
// library and prints how many were acknowledged.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "client/client.hpp"
#include "client/sources.hpp"
#include "runtime/event_loop.hpp"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer PORT\n");
    return 2;
  }
  ringline::client::client_options options;
  options.port = static_cast<std::uint16_t>(std::atoi(argv[1]));
  ringline::client::vector_source lines({"one", "two", "three"});
  ringline::client::conversation_result progress;
  ringline::runtime::event_loop loop;
  auto done = loop.run(ringline::client::converse(
      options, lines, [](const ringline::protocol::reply&) {}, &progress));
  std::printf("acked %llu of %llu\n", static_cast<unsigned long long>(progress.acked),
              static_cast<unsigned long long>(progress.handed));
  return done ? 0 : 1;
}
