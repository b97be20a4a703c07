// A sink that fails safe and recovers: a file sink on a small tmpfs that fills up and is then
// freed, and /dev/full, which never takes a byte. No line that failed to reach the sink is
// acknowledged, the file never keeps a partial line, new connections are told the sink is
// unavailable while it fails, and service resumes by itself once there is room again.
// Needs root to mount the tmpfs (CI runs as root).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <string>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"

namespace ringline::fault {
namespace {

constexpr std::string_view k_unavailable = "error: sink unavailable\n";
constexpr std::string_view k_sink_failed = "error: sink failed\n";

/// A 256 KiB tmpfs mounted on a directory of its own; unmounted by the destructor.
class small_tmpfs {
 public:
  small_tmpfs() : m_mount_point(m_dir.file("mnt")) {
    std::filesystem::create_directory(m_mount_point);
    if (::mount("tmpfs", m_mount_point.c_str(), "tmpfs", 0, "size=256k") != 0) {
      throw std::system_error(errno, std::system_category(), "mount tmpfs (needs root)");
    }
  }
  small_tmpfs(const small_tmpfs&) = delete;
  small_tmpfs& operator=(const small_tmpfs&) = delete;
  ~small_tmpfs() { (void)::umount2(m_mount_point.c_str(), MNT_DETACH); }
  [[nodiscard]] std::filesystem::path file(std::string_view name) const {
    return m_mount_point / name;
  }

 private:
  test_support::temp_dir m_dir;
  std::filesystem::path m_mount_point;
};

/// Writes until the file system says ENOSPC, then in ever smaller pieces down to single
/// bytes, so that no page is left half used; returns the bytes written. Any other error (a
/// transient ENOMEM or EINTR under load) is retried rather than taken for a full disk: once
/// a filler stopped early, and a line the test needs to fail was written whole.
std::size_t fill(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    return 0;
  }
  const std::string block(4096, 'x');
  std::size_t written = 0;
  for (std::size_t piece = block.size(); piece > 0; piece /= 8) {
    for (int transient = 0; transient < 1000;) {
      const auto wrote = ::write(fd, block.data(), piece);
      if (wrote > 0) {
        written += static_cast<std::size_t>(wrote);
      } else if (errno == ENOSPC) {
        break;
      } else {
        ++transient;
      }
    }
  }
  ::close(fd);
  return written;
}

/// Returns the free blocks of the file system holding `path`, or -1.
long long free_blocks(const std::filesystem::path& path) {
  struct statvfs info {};
  return ::statvfs(path.c_str(), &info) == 0 ? static_cast<long long>(info.f_bfree) : -1;
}

TEST(sink_recovery_test, a_full_file_system_fails_safe_and_service_resumes_once_freed) {
  const small_tmpfs disk;
  const auto sink = disk.file("lines.log");
  auto server = start_server({"--sink", sink.string(), "--quiet"});

  auto before = connect_greeted(server);
  ASSERT_TRUE(before);
  before->send_all("written before\n");
  ASSERT_EQ(before->read_line(k_wait), k_ack);
  before->close();

  const auto filler = disk.file("filler");
  ASSERT_GT(fill(filler), 0U);
  ASSERT_EQ(free_blocks(filler), 0) << "the small file system still has room";
  // A line far bigger than the room left: the write fails part way.
  auto victim = connect_greeted(server);
  ASSERT_TRUE(victim);
  victim->send_all(std::string(60'000, 'v') + "\n");
  EXPECT_EQ(victim->read_until_eof(k_wait), k_sink_failed);
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "sink: write failed: No space left"));
  // Cut back to the last whole line: only the acknowledged one is there.
  EXPECT_EQ(read_file(sink), "written before\n");

  auto refused = server.connect();
  EXPECT_EQ(refused.read_until_eof(k_wait), k_unavailable);

  std::filesystem::remove(filler);
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "sink: writing again"));
  auto after = connect_greeted(server);
  ASSERT_TRUE(after);
  after->send_all("written after\n");
  EXPECT_EQ(after->read_line(k_wait), k_ack);
  after->close();
  EXPECT_EQ(read_file(sink), "written before\nwritten after\n");
  // The failure is logged once, however many attempts it took.
  EXPECT_EQ(count_of(server.process().stderr_so_far(), "sink: write failed"), 1U);
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

/// Sets or clears the append-only attribute (chattr +a) of `path`: then no ftruncate of it
/// succeeds, while appends still do.
void set_append_only(const std::filesystem::path& path, bool on) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  int flags = 0;
  ASSERT_EQ(::ioctl(fd, FS_IOC_GETFLAGS, &flags), 0);
  flags = on ? (flags | FS_APPEND_FL) : (flags & ~FS_APPEND_FL);
  ASSERT_EQ(::ioctl(fd, FS_IOC_SETFLAGS, &flags), 0) << "tmpfs takes chattr +a since Linux 6.0";
  ::close(fd);
}

/// Gives back `bytes` of the filler's room.
void free_room(const std::filesystem::path& filler, std::uintmax_t bytes) {
  std::filesystem::resize_file(filler, std::filesystem::file_size(filler) - bytes);
}

TEST(sink_recovery_test, recovery_waits_for_room_for_the_batch_that_failed) {
  const small_tmpfs disk;
  const auto sink = disk.file("lines.log");
  auto server = start_server({"--sink", sink.string(), "--quiet"});
  const auto filler = disk.file("filler");
  ASSERT_GT(fill(filler), 0U);
  auto victim = connect_greeted(server);
  ASSERT_TRUE(victim);
  victim->send_all(std::string(60'000, 'v') + "\n");
  EXPECT_EQ(victim->read_until_eof(k_wait), k_sink_failed);
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "sink: write failed: No space left"));

  // Room for a few pages, not for a batch like the one that failed: a probe of a page would
  // call that recovered, and the next such batch would fail again.
  free_room(filler, 16384);
  // The probe runs every second; two of them must still find too little room.
  EXPECT_EQ(wait_for_stderr_line(server.process(), "sink: writing again", 2500ms), std::nullopt)
      << "recovered with room for 16 KiB after a batch of 60 KB failed";
  auto refused = server.connect();
  EXPECT_EQ(refused.read_until_eof(k_wait), k_unavailable);

  std::filesystem::remove(filler);
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "sink: writing again"));
  auto after = connect_greeted(server);
  ASSERT_TRUE(after);
  after->send_all(std::string(60'000, 'a') + "\n");
  EXPECT_EQ(after->read_line(k_wait), k_ack);
  after->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
}

TEST(sink_recovery_test, a_cut_that_fails_is_reported_as_such_and_done_before_recovery) {
  const small_tmpfs disk;
  const auto sink = disk.file("lines.log");
  auto server = start_server({"--sink", sink.string(), "--quiet"});
  auto before = connect_greeted(server);
  ASSERT_TRUE(before);
  before->send_all("written before\n");
  ASSERT_EQ(before->read_line(k_wait), k_ack);
  before->close();

  // Room for part of the next line only, and a file that cannot be cut.
  const auto filler = disk.file("filler");
  ASSERT_GT(fill(filler), 0U);
  free_room(filler, 8192);
  set_append_only(sink, true);
  auto victim = connect_greeted(server);
  ASSERT_TRUE(victim);
  victim->send_all(std::string(60'000, 'v') + "\n");
  EXPECT_EQ(victim->read_until_eof(k_wait), k_sink_failed);
  const auto line = wait_for_stderr_line(server.process(), "sink: write failed: No space left");
  ASSERT_TRUE(line);
  EXPECT_NE(line->find(" warn "), std::string::npos) << *line;
  EXPECT_NE(line->find("cutting back to the last whole line failed too (Operation not "
                       "permitted): "),
            std::string::npos)
      << *line;
  EXPECT_EQ(line->find("bytes cut back"), std::string::npos) << *line;
  EXPECT_GT(size_of(sink), std::string_view("written before\n").size())
      << "the partial write stayed, as the line says";

  // Recovery cuts the file first: the unacknowledged part never precedes a new line.
  set_append_only(sink, false);
  std::filesystem::remove(filler);
  ASSERT_TRUE(wait_for_stderr_line(server.process(), "sink: writing again"));
  EXPECT_EQ(read_file(sink), "written before\n");
  auto after = connect_greeted(server);
  ASSERT_TRUE(after);
  after->send_all("written after\n");
  EXPECT_EQ(after->read_line(k_wait), k_ack);
  after->close();
  EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  EXPECT_EQ(read_file(sink), "written before\nwritten after\n");
}

TEST(sink_recovery_test, dev_full_never_acknowledges_and_never_recovers) {
  auto server = start_server({"--sink", "/dev/full", "--quiet"});
  auto first = connect_greeted(server);
  ASSERT_TRUE(first);
  first->send_all("lost\n");
  EXPECT_EQ(first->read_until_eof(k_wait), k_sink_failed);
  for (int i = 0; i < 3; ++i) {
    auto next = server.connect();
    EXPECT_EQ(next.read_until_eof(k_wait), k_unavailable);
  }
  EXPECT_EQ(count_of(server.process().stderr_so_far(), "writing again"), 0U);
  EXPECT_EQ(server.stop(k_wait), 0);
}

}  // namespace
}  // namespace ringline::fault
