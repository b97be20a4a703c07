#include "runtime/log.hpp"

#include <pthread.h>
#include <signal.h>

#include <poll.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <new>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

namespace ringline::runtime {

namespace {

// Room for the drop report after a full queue, so appending it never allocates.
constexpr std::size_t k_note_room = 160;
// "2026-11-30T16:30:23.123Z debug " is 31 bytes.
constexpr std::size_t k_prefix_room = 64;

// Everything the log shares between threads. It is built once and never destroyed: the
// writer thread is detached and may be stuck in write() when the process exits, so nothing
// it touches may be destroyed by exit()'s static destructors.
struct log_state {
  std::atomic<log_level> min_level{log_level::info};
  std::atomic<bool> timestamps{false};
  std::atomic<log_format> format{log_format::text};
  // Set (release) once the writer runs and the queue is ready; loggers read it (acquire).
  std::atomic<bool> background{false};
  std::atomic<std::uint64_t> dropped_total{0};

  std::mutex mutex;
  std::condition_variable has_work;  // the writer waits here for lines or a drop report
  std::condition_variable drained;   // flush_log waits here for an empty queue
  // Guarded by mutex:
  std::string pending;           // queued lines, each with its prefix and '\n'
  std::size_t capacity = 0;      // bound on pending.size()
  std::uint64_t unreported = 0;  // lines dropped since the writer last took the queue
  bool writing = false;          // the writer holds a batch it has not finished writing
  bool started = false;
};

log_state& state() noexcept {
  // Built in static storage that nothing ever destroys (see log_state), so there is no
  // allocation to fail either.
  alignas(log_state) static std::byte storage[sizeof(log_state)];
  static log_state* const shared = new (storage) log_state;
  return *shared;
}

const char* level_word(log_level level) noexcept {
  switch (level) {
    case log_level::error:
      return "error";
    case log_level::warn:
      return "warn";
    case log_level::info:
      return "info";
    case log_level::debug:
      return "debug";
  }
  return "info";
}

// Writes the UTC time as RFC 3339 with milliseconds into `out`; returns its length.
std::size_t format_time(std::array<char, k_prefix_room>& out) noexcept {
  timespec now{};
  ::clock_gettime(CLOCK_REALTIME, &now);
  tm utc{};
  ::gmtime_r(&now.tv_sec, &utc);
  const int length = std::snprintf(out.data(), out.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
                                   utc.tm_year + 1900, utc.tm_mon + 1, utc.tm_mday, utc.tm_hour,
                                   utc.tm_min, utc.tm_sec, now.tv_nsec / 1'000'000);
  return length > 0 ? std::min(static_cast<std::size_t>(length), out.size() - 1) : 0;
}

// Writes "<UTC time> <level> " into `out` and returns its length.
std::size_t format_prefix(std::array<char, k_prefix_room>& out, log_level level) noexcept {
  std::size_t length = format_time(out);
  const int rest =
      std::snprintf(out.data() + length, out.size() - length, " %s ", level_word(level));
  length += rest > 0 ? std::min(static_cast<std::size_t>(rest), out.size() - length - 1) : 0;
  return length;
}

void append_json_string(std::string& out, std::string_view text) {
  out.push_back('"');
  for (const char c : text) {
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          std::array<char, 8> escaped{};
          const int length = std::snprintf(escaped.data(), escaped.size(), "\\u%04x",
                                           static_cast<unsigned>(static_cast<unsigned char>(c)));
          out.append(escaped.data(), static_cast<std::size_t>(std::max(length, 0)));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

bool is_integer(std::string_view text) noexcept {
  if (!text.empty() && text.front() == '-') {
    text.remove_prefix(1);
  }
  // No leading zeros: "007" is not a JSON number.
  return !text.empty() && text.size() <= 19 && (text.size() == 1 || text.front() != '0') &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The whole line, without its newline, in the format configured.
void compose(std::string& out, log_level level, std::string_view message,
             std::initializer_list<log_field> fields, bool timestamps, log_format format) {
  std::array<char, k_prefix_room> time{};
  if (format == log_format::text) {
    if (timestamps) {
      out.append(time.data(), format_prefix(time, level));
    }
    out.append(message);
    return;
  }
  out.push_back('{');
  if (timestamps) {
    out.append("\"time\":");
    append_json_string(out, {time.data(), format_time(time)});
    out.push_back(',');
  }
  out.append("\"level\":");
  append_json_string(out, level_word(level));
  out.append(",\"message\":");
  append_json_string(out, message);
  for (const auto& field : fields) {
    out.push_back(',');
    append_json_string(out, field.key);
    out.push_back(':');
    if (is_integer(field.value)) {
      out.append(field.value);
    } else {
      append_json_string(out, field.value);
    }
  }
  out.push_back('}');
}

// Writes all of `data` to stderr, waiting as long as it takes; gives up only on errors that
// waiting cannot cure (EPIPE, EBADF, ...). Only the writer thread calls it.
void write_fully(const char* data, std::size_t size) noexcept {
  while (size > 0) {
    const ssize_t written = ::write(STDERR_FILENO, data, size);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno == EAGAIN) {
        // Someone made stderr non-blocking; this thread is the one place allowed to wait.
        pollfd ready{.fd = STDERR_FILENO, .events = POLLOUT, .revents = 0};
        (void)::poll(&ready, 1, -1);
        continue;
      }
      return;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
}

void append_drop_report(std::string& batch, std::uint64_t dropped) {
  if (state().format.load(std::memory_order_relaxed) == log_format::json) {
    // The batch was reserved with room for the report; a JSON one is as short.
    const auto count = std::to_string(dropped);
    compose(batch, log_level::warn, "log: dropped lines (standard error was not keeping up)",
            {{"dropped", count}}, state().timestamps.load(std::memory_order_relaxed),
            log_format::json);
    batch.push_back('\n');
    return;
  }
  std::array<char, k_note_room> note{};
  std::size_t length = 0;
  if (state().timestamps.load(std::memory_order_relaxed)) {
    std::array<char, k_prefix_room> prefix{};
    length = format_prefix(prefix, log_level::warn);
    std::copy_n(prefix.data(), length, note.data());
  }
  const int rest = std::snprintf(note.data() + length, note.size() - length,
                                 "log: dropped %llu lines (standard error was not keeping up)\n",
                                 static_cast<unsigned long long>(dropped));
  length += rest > 0 ? std::min(static_cast<std::size_t>(rest), note.size() - length - 1) : 0;
  batch.append(note.data(), length);
}

// The writer thread: takes the whole queue at once (swapping buffers, so neither side
// allocates) and writes it with the mutex released, so loggers only ever wait for a swap.
void write_queued_lines(log_state* shared) noexcept {
  std::string batch;
  std::unique_lock lock(shared->mutex);
  batch.reserve(shared->capacity + k_note_room);
  for (;;) {
    shared->has_work.wait(lock, [&] { return !shared->pending.empty() || shared->unreported > 0; });
    batch.swap(shared->pending);
    const std::uint64_t dropped = std::exchange(shared->unreported, 0);
    shared->writing = true;
    lock.unlock();
    // The dropped lines came after every line in this batch, so the report goes last.
    if (dropped > 0) {
      append_drop_report(batch, dropped);
    }
    write_fully(batch.data(), batch.size());
    batch.clear();
    lock.lock();
    shared->writing = false;
    if (shared->pending.empty() && shared->unreported == 0) {
      shared->drained.notify_all();
    }
  }
}

void enqueue(log_state& shared, std::string_view prefix, std::string_view message) noexcept {
  const std::size_t needed = prefix.size() + message.size() + 1;
  bool wake = false;
  {
    const std::lock_guard lock(shared.mutex);
    // The writer waits only while the queue is empty and nothing is unreported, so only the
    // first line (or drop) after that needs to wake it.
    wake = shared.pending.empty() && shared.unreported == 0;
    if (needed > shared.capacity - shared.pending.size()) {
      ++shared.unreported;
      shared.dropped_total.fetch_add(1, std::memory_order_relaxed);
    } else {
      // Within the capacity reserved at start: no allocation.
      shared.pending.append(prefix).append(message).push_back('\n');
    }
  }
  if (wake) {
    shared.has_work.notify_one();
  }
}

void write_now(std::string_view prefix, std::string_view message) noexcept {
  char newline = '\n';
  iovec parts[3] = {{const_cast<char*>(prefix.data()), prefix.size()},
                    {const_cast<char*>(message.data()), message.size()},
                    {&newline, 1}};
  ssize_t written = 0;
  do {
    written = ::writev(STDERR_FILENO, parts, 3);
  } while (written < 0 && errno == EINTR);
  // A short write to stderr is left as it is: there is nowhere to report it.
}

}  // namespace

void configure_log(log_options options) noexcept {
  auto& shared = state();
  shared.min_level.store(options.min_level, std::memory_order_relaxed);
  shared.timestamps.store(options.timestamps, std::memory_order_relaxed);
  shared.format.store(options.format, std::memory_order_relaxed);
}

void start_background_log(log_options options) {
  auto& shared = state();
  configure_log(options);
  const std::lock_guard lock(shared.mutex);
  if (shared.started) {
    return;
  }
  shared.capacity = std::max<std::size_t>(options.queue_bytes, 1);
  shared.pending.reserve(shared.capacity + k_note_room);
  // The writer starts by taking the mutex, so it sees the capacity set above. It is born
  // with every signal blocked (a thread inherits its creator's mask): a process-directed
  // SIGTERM must reach the thread that reads it from a signalfd, never this one, where its
  // default action would kill the process.
  sigset_t all;
  sigset_t previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  std::thread(write_queued_lines, &shared).detach();
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  shared.started = true;
  shared.background.store(true, std::memory_order_release);
}

bool log_enabled(log_level level) noexcept {
  return level <= state().min_level.load(std::memory_order_relaxed);
}

void log(log_level level, std::string_view message,
         std::initializer_list<log_field> fields) noexcept {
  auto& shared = state();
  if (!log_enabled(level)) {
    return;
  }
  const auto format = shared.format.load(std::memory_order_relaxed);
  if (format == log_format::text) {
    log(level, message);  // the message says it all for people
    return;
  }
  // One buffer per thread, reused: after the first lines, composing allocates nothing.
  thread_local std::string line;
  try {
    line.clear();
    compose(line, level, message, fields, shared.timestamps.load(std::memory_order_relaxed),
            format);
  } catch (...) {
    log(level, message);
    return;
  }
  if (shared.background.load(std::memory_order_acquire)) {
    enqueue(shared, {}, line);
  } else {
    write_now({}, line);
  }
}

void log(log_level level, std::string_view message) noexcept {
  auto& shared = state();
  if (!log_enabled(level)) {
    return;
  }
  if (shared.format.load(std::memory_order_relaxed) == log_format::json) {
    log(level, message, {});
    return;
  }
  std::array<char, k_prefix_room> prefix{};
  std::size_t prefix_size = 0;
  if (shared.timestamps.load(std::memory_order_relaxed)) {
    prefix_size = format_prefix(prefix, level);
  }
  const std::string_view prefix_text(prefix.data(), prefix_size);
  if (shared.background.load(std::memory_order_acquire)) {
    enqueue(shared, prefix_text, message);
  } else {
    write_now(prefix_text, message);
  }
}

void log_line(std::string_view line) noexcept {
  log(log_level::info, line);
}

bool flush_log(std::chrono::milliseconds max_wait) noexcept {
  auto& shared = state();
  if (!shared.background.load(std::memory_order_acquire)) {
    return true;
  }
  try {
    std::unique_lock lock(shared.mutex);
    return shared.drained.wait_for(lock, max_wait, [&] {
      return shared.pending.empty() && shared.unreported == 0 && !shared.writing;
    });
  } catch (...) {
    return false;  // a failing mutex or clock: report "not flushed" rather than terminate
  }
}

std::uint64_t log_dropped_lines() noexcept {
  return state().dropped_total.load(std::memory_order_relaxed);
}

}  // namespace ringline::runtime
