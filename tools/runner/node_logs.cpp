// Node output kept in Dora-style JSON Lines files (see node_logs.hpp).
#include "runner/node_logs.hpp"

#include <fcntl.h>
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <sys/random.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <nlohmann/json.hpp>
#include <system_error>

namespace dcp::runner {
namespace {

[[noreturn]] void fail(const std::string& what, const std::filesystem::path& path, int error) {
  throw std::system_error(error, std::generic_category(), what + " " + path.string());
}

}  // namespace

NodeLogs::NodeLogs(const std::filesystem::path& base_dir, const std::string& run_id,
                   const std::vector<std::string>& node_ids)
    : folder_(base_dir / "out" / run_id), node_ids_(node_ids) {
  std::error_code error;
  std::filesystem::create_directories(folder_, error);
  if (error) fail("cannot create the log folder", folder_, error.value());
  for (const std::string& id : node_ids_) {
    const std::filesystem::path path = folder_ / ("log_" + id + ".jsonl");
    ipc::FileDescriptor file(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644));
    if (!file) fail("cannot create the log file", path, errno);
    files_.push_back(std::move(file));
  }
}

void NodeLogs::write(std::size_t node, bool is_stderr, std::string_view line) noexcept {
  try {
    const std::string text = record(node_ids_.at(node), is_stderr, line, std::chrono::system_clock::now());
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t wrote = ::write(files_.at(node).get(), text.data() + done, text.size() - done);
      if (wrote < 0 && errno == EINTR) continue;
      if (wrote <= 0) throw std::system_error(wrote < 0 ? errno : EIO, std::generic_category(), "write");
      done += static_cast<std::size_t>(wrote);
    }
  } catch (const std::exception& e) {
    if (failed_writes_++ == 0) first_error_ = e.what();
  }
}

std::string NodeLogs::make_run_id() {
  std::array<unsigned char, 16> bytes{};
  if (::getrandom(bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size())) {
    throw std::system_error(errno, std::generic_category(), "getrandom");
  }
  const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                 std::chrono::system_clock::now().time_since_epoch())
                                                 .count());
  for (int i = 0; i < 6; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x70);  // version 7
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // RFC 9562 variant
  std::string text;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) text += '-';
    text += fmt::format("{:02x}", bytes[i]);
  }
  return text;
}

std::string NodeLogs::record(std::string_view node, bool is_stderr, std::string_view line,
                             std::chrono::system_clock::time_point when) {
  const auto ms = std::chrono::floor<std::chrono::milliseconds>(when);
  const auto seconds = std::chrono::floor<std::chrono::seconds>(ms);
  const nlohmann::ordered_json entry = {
      {"ts", fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}Z", seconds, (ms - seconds).count())},
      {"level", "stdout"},
      {"node", node},
      {"stream", is_stderr ? "stderr" : "stdout"},
      {"msg", line},
      {"target", nullptr},
      {"fields", nullptr},
  };
  return entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + '\n';
}

}  // namespace dcp::runner
