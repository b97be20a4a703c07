// Throughput of the server's line framer: bytes per second through feed()/next() for lines
// of several lengths, received in 16 KiB chunks as a session receives them.
#include <benchmark/benchmark.h>

#include <string>

#include "protocol/line_framer.hpp"

namespace {

void frame_lines(benchmark::State& state) {
  const auto line_length = static_cast<std::size_t>(state.range(0));
  std::string input;
  while (input.size() < 1024 * 1024) {
    input.append(line_length, 'x');
    input.push_back('\n');
  }
  constexpr std::size_t chunk = 16 * 1024;
  std::size_t lines = 0;
  for (auto _ : state) {
    ringline::protocol::line_framer framer(65536);
    for (std::size_t offset = 0; offset < input.size(); offset += chunk) {
      const auto size = std::min(chunk, input.size() - offset);
      framer.feed({input.data() + offset, size});
      for (auto frame = framer.next(); frame.kind == ringline::protocol::frame_kind::line;
           frame = framer.next()) {
        benchmark::DoNotOptimize(frame.line.data());
        ++lines;
      }
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * input.size()));
  state.counters["lines/s"] =
      benchmark::Counter(static_cast<double>(lines), benchmark::Counter::kIsRate);
}
BENCHMARK(frame_lines)->Arg(8)->Arg(64)->Arg(1024)->Arg(60000);

}  // namespace
