// Lines acknowledged per second, end to end over loopback TCP: the coroutine client library
// pipelining lines to a server on the same event loop (sink none), for 1 and for 32
// concurrent clients. One thread does both sides, so this measures the runtime's and the
// session's cost per line, not the machine's parallelism.
#include <benchmark/benchmark.h>

#include <memory>
#include <string>
#include <vector>

#include "client/client.hpp"
#include "client/sources.hpp"
#include "protocol/messages.hpp"
#include "runtime/event.hpp"
#include "runtime/event_loop.hpp"
#include "service/server.hpp"
#include "service/sink.hpp"

namespace {

using namespace ringline;

runtime::task<void> one_client(client::client_options options, std::size_t lines,
                               std::size_t* remaining, runtime::event* done) {
  client::vector_source source(std::vector<std::string>(lines, std::string(32, 'x')));
  auto outcome = co_await client::converse(
      options, source, [](const protocol::reply&) {}, nullptr);
  if (!outcome || outcome->acked != lines) {
    std::abort();  // a benchmark that lost lines measures nothing
  }
  if (--*remaining == 0) {
    done->set();
  }
}

runtime::task<void> round(service::server* running, std::size_t clients, std::size_t lines) {
  client::client_options options;
  options.host = running->local_address().host();
  options.port = running->local_address().port();
  runtime::event done;
  std::size_t remaining = clients;
  for (std::size_t i = 0; i < clients; ++i) {
    runtime::event_loop::current().spawn(one_client(options, lines, &remaining, &done));
  }
  co_await done;
}

runtime::task<void> start(service::server* running, service::sink* lines) {
  auto& loop = runtime::event_loop::current();
  loop.spawn(lines->run());
  loop.spawn(running->run());
  co_return;
}

runtime::task<void> stop(service::server* running, service::sink* lines) {
  running->stop();
  co_await running->wait_for_sessions();
  lines->stop();
  co_await runtime::event_loop::current().wait_for_spawned();
}

void acked_lines(benchmark::State& state) {
  const auto clients = static_cast<std::size_t>(state.range(0));
  const std::size_t lines_per_client = 20'000 / clients;
  runtime::event_loop loop;
  service::config settings;
  settings.port = 0;
  settings.greeting = protocol::default_greeting;
  settings.ack = protocol::default_ack;
  settings.log_connections = false;
  auto out = std::move(*service::sink::open("none"));
  service::server running(settings, *out);
  if (!running.listen()) {
    state.SkipWithError("cannot listen on loopback");
    return;
  }
  loop.run(start(&running, out.get()));
  for (auto _ : state) {
    loop.run(round(&running, clients, lines_per_client));
  }
  loop.run(stop(&running, out.get()));
  state.counters["lines/s"] =
      benchmark::Counter(static_cast<double>(state.iterations() * clients * lines_per_client),
                         benchmark::Counter::kIsRate);
}
BENCHMARK(acked_lines)->Arg(1)->Arg(32)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
