#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

// Helpers shared by the libFuzzer targets: failing loudly, reading the input's header bytes,
// and the reference framer every target compares against.

namespace ringline::fuzz {

/// Prints `what` and aborts, which libFuzzer reports as a crash and saves the input.
[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "fuzz check failed: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

/// Aborts with `what` unless `condition` holds.
inline void check(bool condition, const char* what) {
  if (!condition) {
    fail(what);
  }
}

/// Returns `bytes` with everything but printable ASCII escaped, cut after `limit` bytes, for
/// failure messages.
inline std::string escaped(std::string_view bytes, std::size_t limit = 400) {
  std::string out;
  for (std::size_t i = 0; i < bytes.size() && i < limit; ++i) {
    const auto byte = static_cast<unsigned char>(bytes[i]);
    if (byte == '\n') {
      out += "\\n";
    } else if (byte == '\r') {
      out += "\\r";
    } else if (byte == '\\') {
      out += "\\\\";
    } else if (byte >= 0x20 && byte < 0x7f) {
      out.push_back(static_cast<char>(byte));
    } else {
      static constexpr char k_hex[] = "0123456789abcdef";
      out += "\\x";
      out.push_back(k_hex[byte >> 4]);
      out.push_back(k_hex[byte & 0xf]);
    }
  }
  if (bytes.size() > limit) {
    out += "...(" + std::to_string(bytes.size()) + " bytes)";
  }
  return out;
}

/// Reads the fuzzer's input front to back: header bytes first, the rest is the stream.
class input_reader {
 public:
  input_reader(const std::uint8_t* data, std::size_t size) noexcept : m_data(data), m_size(size) {}

  /// Returns true when at least `count` bytes are left.
  [[nodiscard]] bool has(std::size_t count) const noexcept { return m_size - m_used >= count; }
  /// Returns the next byte; has(1) must hold.
  std::uint8_t byte() noexcept { return m_data[m_used++]; }
  /// Returns the next `count` bytes as text; has(count) must hold.
  std::string_view text(std::size_t count) noexcept {
    const std::string_view out(reinterpret_cast<const char*>(m_data) + m_used, count);
    m_used += count;
    return out;
  }
  /// Returns every byte not read yet.
  std::string_view rest() noexcept { return text(m_size - m_used); }

 private:
  const std::uint8_t* m_data;
  std::size_t m_size;
  std::size_t m_used = 0;
};

/// Cuts a stream into chunks whose sizes repeat a short pattern read from the input header:
/// one byte N (1 + N % 8 sizes follow), then one byte per size (byte % 32; 0 is an empty
/// chunk). A pattern of only zeros means the whole stream in one chunk.
class chunk_pattern {
 public:
  /// Reads the pattern; returns false when the input is too short to hold it.
  bool read(input_reader& input) {
    if (!input.has(1)) {
      return false;
    }
    const std::size_t count = 1 + input.byte() % 8;
    if (!input.has(count)) {
      return false;
    }
    m_sizes.clear();
    bool all_empty = true;
    for (std::size_t i = 0; i < count; ++i) {
      m_sizes.push_back(input.byte() % 32);
      all_empty = all_empty && m_sizes.back() == 0;
    }
    if (all_empty) {
      m_sizes.assign(1, static_cast<std::size_t>(-1));
    }
    return true;
  }

  /// Returns the size of the `index`-th chunk, at most `left`.
  [[nodiscard]] std::size_t size(std::size_t index, std::size_t left) const noexcept {
    const std::size_t want = m_sizes[index % m_sizes.size()];
    return want < left ? want : left;
  }

 private:
  std::vector<std::size_t> m_sizes;
};

/// What a correct framer makes of a whole stream.
struct reference_frames {
  /// The complete lines before the first line that is too long, '\n' and a '\r' before it
  /// removed.
  std::vector<std::string_view> lines;
  /// True when a line is too long: a complete line with more than max_line_bytes of content,
  /// or an unfinished trailing line that is too long however it ends (even its shortest
  /// completion, a '\n' right away, leaves more than max_line_bytes).
  bool too_long = false;
  /// The bytes after the last '\n' (meaningful only when !too_long).
  std::string_view partial;
  /// Where each line in `lines` ends in the stream (one past its '\n').
  std::vector<std::size_t> line_ends;
};

/// Frames `stream` as a whole, the obvious way; the incremental framers must agree with it
/// for every chunking.
inline reference_frames reference_frame(std::string_view stream, std::size_t max_line_bytes) {
  reference_frames out;
  std::size_t start = 0;
  for (;;) {
    const std::size_t newline = stream.find('\n', start);
    if (newline == std::string_view::npos) {
      break;
    }
    std::string_view line = stream.substr(start, newline - start);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.size() > max_line_bytes) {
      out.too_long = true;
      return out;
    }
    out.lines.push_back(line);
    out.line_ends.push_back(newline + 1);
    start = newline + 1;
  }
  out.partial = stream.substr(start);
  if (!out.partial.empty()) {
    const std::size_t shortest =
        out.partial.size() - static_cast<std::size_t>(out.partial.back() == '\r');
    out.too_long = shortest > max_line_bytes;
  }
  return out;
}

}  // namespace ringline::fuzz
