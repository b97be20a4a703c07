// --durable: an ack means the line is on disk. The sink's file lives on a small ext4 filesystem
// of its own, on a loop device made for this test, so the device's counters
// (/sys/block/loopN/stat) show what reached it: by the time an ack arrives, the device must
// have completed a write and a cache flush. Without the fdatasync the line would sit dirty in
// the page cache for half a minute (vm.dirty_expire_centisecs) and the device would see
// nothing. Needs root and loop devices; without them the test fails and says so (CI has them).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <unistd.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/fault/fault_support.hpp"
#include "tests/support/temp_dir.hpp"
#include "tests/support/unique_fd.hpp"

namespace ringline::fault {
namespace {

using test_support::temp_dir;
using test_support::unique_fd;

/// Runs a system tool to completion; returns its exit code (-1 if it did not finish within
/// k_wait) and its output (stdout, then stderr) in `output`.
int run_tool(std::vector<std::string> argv, std::string& output) {
  test_support::child_options options;
  options.argv = std::move(argv);
  test_support::child_process tool(std::move(options));
  auto out = tool.read_stdout_all(k_wait);
  const int code = tool.wait_for_exit(k_wait).value_or(-1);
  output = out.value_or(tool.stdout_so_far()) + tool.stderr_so_far();
  return code;
}

/// The counters of /sys/block/<device>/stat this test reads (Documentation/block/stat.rst).
struct device_counters {
  std::uint64_t writes = 0;   ///< field 5: write requests completed
  std::uint64_t flushes = 0;  ///< field 16: flush requests completed
};

/// Reads the counters of block device `name` ("loop3"); throws if the file lacks the flush
/// fields (kernels before 5.5).
device_counters read_counters(const std::string& name) {
  std::ifstream file("/sys/block/" + name + "/stat");
  std::array<std::uint64_t, 17> fields{};
  for (auto& field : fields) {
    if (!(file >> field)) {
      throw std::runtime_error("/sys/block/" + name + "/stat: fewer than 17 fields");
    }
  }
  return {fields[4], fields[15]};
}

/// A fresh 64 MiB ext4 filesystem on a loop device, mounted with default options on a
/// directory of a temp_dir. The destructor unmounts it and detaches the loop device, whatever
/// state the test left them in.
class loop_filesystem {
 public:
  /// Makes and mounts the filesystem; throws std::runtime_error with the tool's message if a
  /// step fails (no loop devices, not root, no mkfs.ext4).
  loop_filesystem() {
    const auto image = m_dir.file("disk.img");
    std::ofstream(image).close();
    std::filesystem::resize_file(image, std::uintmax_t{64} << 20);
    std::string output;
    // Inode tables and journal are written now rather than by a background thread after the
    // mount, whose writes would reach the device during the measurement.
    if (run_tool({"mkfs.ext4", "-q", "-F", "-E", "lazy_itable_init=0,lazy_journal_init=0",
                  image.string()},
                 output) != 0) {
      throw std::runtime_error("mkfs.ext4 failed: " + output);
    }
    if (run_tool({"losetup", "-f", "--show", image.string()}, output) != 0) {
      throw std::runtime_error("losetup -f --show failed (loop devices needed): " + output);
    }
    m_device = output.substr(0, output.find('\n'));
    m_mount_point = m_dir.file("mnt");
    std::filesystem::create_directory(m_mount_point);
    if (::mount(m_device.c_str(), m_mount_point.c_str(), "ext4", 0, nullptr) != 0) {
      const std::error_code error(errno, std::system_category());
      detach();
      throw std::runtime_error("mount " + m_device + ": " + error.message());
    }
    m_mounted = true;
  }
  loop_filesystem(const loop_filesystem&) = delete;
  loop_filesystem& operator=(const loop_filesystem&) = delete;
  ~loop_filesystem() {
    if (m_mounted && ::umount2(m_mount_point.c_str(), 0) != 0) {
      (void)::umount2(m_mount_point.c_str(), MNT_DETACH);  // freed once the last user lets go
    }
    detach();
  }

  /// Returns the mount point.
  [[nodiscard]] const std::filesystem::path& mount_point() const noexcept { return m_mount_point; }
  /// Returns the device's name in /sys/block ("loop3").
  [[nodiscard]] std::string device_name() const {
    return std::filesystem::path(m_device).filename().string();
  }
  /// Commits everything pending on the filesystem, so that later counters move only for what
  /// happens after this call.
  void settle() const {
    const unique_fd fd(::open(m_mount_point.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd || ::syncfs(fd.get()) != 0) {
      throw std::system_error(errno, std::system_category(), "syncfs");
    }
  }

 private:
  void detach() noexcept {
    if (m_device.empty()) {
      return;
    }
    try {
      std::string ignored;
      (void)run_tool({"losetup", "-d", m_device}, ignored);
    } catch (...) {  // NOLINT(bugprone-empty-catch): a destructor must not throw
    }
    m_device.clear();
  }

  temp_dir m_dir;
  std::string m_device;
  std::filesystem::path m_mount_point;
  bool m_mounted = false;
};

TEST(durable_flush_test, ack_comes_after_the_device_completed_a_write_and_a_flush) {
  ASSERT_EQ(::geteuid(), 0U) << "this test makes a loop device and mounts it: run it as root";
  std::optional<loop_filesystem> disk;
  try {
    disk.emplace();
  } catch (const std::exception& error) {
    FAIL() << "cannot set up an ext4 filesystem on a loop device: " << error.what();
  }
  const auto sink_path = disk->mount_point() / "lines.txt";
  {
    auto server = start_server({"--sink", sink_path.string(), "--durable", "--quiet"});
    auto client = connect_greeted(server);
    ASSERT_TRUE(client);
    // A first line creates the file's blocks; the measured one then only appends.
    client->send_all("first\n");
    ASSERT_EQ(client->read_line(k_wait), k_ack);

    for (int round = 0; round < 3; ++round) {
      disk->settle();
      const auto before = read_counters(disk->device_name());
      client->send_all(fmt::format("durable line {}\n", round));
      ASSERT_EQ(client->read_line(k_wait), k_ack) << "round " << round;
      const auto after = read_counters(disk->device_name());
      EXPECT_GT(after.writes, before.writes) << "round " << round << ": acked before any write";
      EXPECT_GT(after.flushes, before.flushes) << "round " << round << ": acked before a flush";
    }
    client->close();
    EXPECT_EQ(server.stop(k_wait), 0) << server.process().stderr_so_far();
  }
  EXPECT_EQ(read_file(sink_path), "first\ndurable line 0\ndurable line 1\ndurable line 2\n");
}

}  // namespace
}  // namespace ringline::fault
