// One cgroup v2 per node (see node_cgroups.hpp).
#include "runner/node_cgroups.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string_view>
#include <cstring>
#include <fstream>
#include <sstream>
#include <system_error>

namespace dcp::runner {
namespace fs = std::filesystem;
namespace {

// The mount point of the cgroup2 file system ("" when none is mounted): field 5 of the
// /proc/self/mountinfo line whose file-system type (after " - ") is cgroup2.
std::string cgroup2_mount() {
  std::ifstream mountinfo("/proc/self/mountinfo");
  for (std::string line; std::getline(mountinfo, line);) {
    const std::size_t dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream fields(line.substr(0, dash));
    std::string id, parent, device, root, mount_point;
    fields >> id >> parent >> device >> root >> mount_point;
    if (root == "/") return mount_point;
  }
  return {};
}

// The runner's cgroup v2 path relative to the hierarchy's root: the "0::<path>" line of
// /proc/self/cgroup ("" when there is none).
std::string own_cgroup() {
  std::ifstream cgroup("/proc/self/cgroup");
  for (std::string line; std::getline(cgroup, line);) {
    if (line.rfind("0::", 0) == 0) return line.substr(3);
  }
  return {};
}

bool write_text(const fs::path& file, const std::string& text) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

}  // namespace

NodeCgroups::NodeCgroups(std::size_t node_count) {
  if (const char* off = std::getenv("DCP_RUN_NO_CGROUPS"); off != nullptr && *off != '\0' && std::string_view(off) != "0") {
    reason_ = "turned off by DCP_RUN_NO_CGROUPS";
    return;
  }
  const std::string mount = cgroup2_mount();
  if (mount.empty()) {
    reason_ = "no cgroup v2 hierarchy is mounted";
    return;
  }
  const std::string own = own_cgroup();
  if (own.empty() || own.find("..") != std::string::npos) {
    reason_ = "the runner's cgroup v2 is not in /proc/self/cgroup";
    return;
  }
  const fs::path parent = fs::path(mount) / fs::path(own).relative_path();
  std::error_code error;
  if (!fs::is_directory(parent, error)) {
    reason_ = "the runner's cgroup " + parent.string() + " is not visible in this mount namespace";
    return;
  }
  const fs::path run = parent / ("dcp-run-" + std::to_string(::getpid()));
  if (::mkdir(run.c_str(), 0755) != 0) {
    reason_ = "cannot create a cgroup under the runner's cgroup " + parent.string() + " (" +
              std::strerror(errno) + "; no delegated, writable subtree)";
    return;
  }
  run_directory_ = run;
  for (std::size_t n = 0; n < node_count; ++n) {
    const fs::path node = run / ("node-" + std::to_string(n));
    if (::mkdir(node.c_str(), 0755) != 0) {
      reason_ = "cannot create " + node.string() + " (" + std::strerror(errno) + ")";
      return;  // the destructor removes what was made
    }
    node_directories_.push_back(node);
    ipc::FileDescriptor procs(::open((node / "cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC));
    if (!procs) {
      reason_ = "cannot open " + (node / "cgroup.procs").string() + " (" + std::strerror(errno) + ")";
      return;
    }
    procs_.push_back(std::move(procs));
  }
  available_ = true;
}

NodeCgroups::~NodeCgroups() {
  procs_.clear();
  for (const fs::path& node : node_directories_) ::rmdir(node.c_str());
  if (!run_directory_.empty()) ::rmdir(run_directory_.c_str());
}

int NodeCgroups::procs_descriptor(std::size_t node) const noexcept {
  return available_ && node < procs_.size() ? procs_[node].get() : -1;
}

std::vector<pid_t> NodeCgroups::members(std::size_t node) const {
  std::vector<pid_t> pids;
  if (!available_ || node >= node_directories_.size()) return pids;
  std::ifstream procs(node_directories_[node] / "cgroup.procs");
  for (pid_t pid = 0; procs >> pid;) pids.push_back(pid);
  return pids;
}

bool NodeCgroups::holds(std::size_t node, pid_t pid) const {
  if (!available_ || node >= node_directories_.size()) return false;
  std::ifstream cgroup("/proc/" + std::to_string(pid) + "/cgroup");
  const std::string expected = "/" + run_directory_.filename().string() + "/" + node_directories_[node].filename().string();
  for (std::string line; std::getline(cgroup, line);) {
    if (line.rfind("0::", 0) != 0) continue;
    return line.size() >= expected.size() && line.compare(line.size() - expected.size(), expected.size(), expected) == 0;
  }
  return false;
}

void NodeCgroups::signal_members(std::size_t node, int signal) const {
  for (const pid_t pid : members(node)) ::kill(pid, signal);
}

void NodeCgroups::kill_all(std::size_t node) const {
  if (!available_ || node >= node_directories_.size()) return;
  if (write_text(node_directories_[node] / "cgroup.kill", "1")) return;
  signal_members(node, SIGKILL);
}

}  // namespace dcp::runner
