// The run report and the summary table printed at the end of `dcp run` (see runner.hpp).
#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "runner/duration.hpp"
#include "runner/pending_connections.hpp"
#include "runner/process.hpp"
#include "runner/runner.hpp"

namespace dcp::runner {
namespace {

std::string times(std::uint64_t count) { return count == 1 ? "once" : std::to_string(count) + " times"; }

}  // namespace

bool NodeReport::failed() const noexcept {
  if (!protocol_error.empty()) return true;
  switch (end) {
    case NodeEnd::exited: return exit_code != 0;
    case NodeEnd::signaled:
    case NodeEnd::killed_after_grace:
    case NodeEnd::killed_on_interrupt:
    case NodeEnd::killed_at_start_deadline:
    case NodeEnd::failed_to_start: return true;
  }
  return true;
}

std::string NodeReport::describe_end(std::chrono::milliseconds grace, std::chrono::milliseconds start_timeout) const {
  std::string text;
  switch (end) {
    case NodeEnd::exited: text = "exit code " + std::to_string(exit_code); break;
    case NodeEnd::signaled: text = "signal " + signal_name(signal); break;
    case NodeEnd::killed_after_grace: text = "killed after the " + format_duration(grace) + " grace period"; break;
    case NodeEnd::killed_on_interrupt: text = "killed (second interrupt)"; break;
    case NodeEnd::killed_at_start_deadline: text = "killed: did not connect within " + format_duration(start_timeout); break;
    case NodeEnd::failed_to_start: text = "failed to start: " + start_error; break;
  }
  if (!protocol_error.empty()) text += ", protocol error";
  return text;
}

std::size_t RunReport::failed_count() const noexcept {
  return static_cast<std::size_t>(std::count_if(nodes.begin(), nodes.end(), [](const NodeReport& n) { return n.failed(); }));
}

std::size_t RunReport::reported_errors_count() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(nodes.begin(), nodes.end(), [](const NodeReport& n) { return n.reported_errors > 0; }));
}

std::size_t RunReport::leftover_count() const noexcept {
  std::size_t count = unowned_leftovers.size();
  for (const NodeReport& node : nodes) count += node.leftovers.size();
  return count;
}

namespace {

std::string plural(std::size_t count, const char* one, const char* many) {
  return std::to_string(count) + " " + (count == 1 ? one : many);
}

// "(pids 123, 124: sleep, sh); they were killed, 1 with SIGKILL after ignoring SIGTERM for 1s"
std::string describe_leftovers(const std::vector<LeftoverProcess>& leftovers) {
  std::string pids;
  std::string names;
  std::vector<std::string> seen_names;
  std::size_t sigkilled = 0;
  std::string survivors;
  for (const LeftoverProcess& process : leftovers) {
    pids += (pids.empty() ? "" : ", ") + std::to_string(process.pid);
    if (std::find(seen_names.begin(), seen_names.end(), process.name) == seen_names.end()) {
      seen_names.push_back(process.name);
      names += (names.empty() ? "" : ", ") + process.name;
    }
    if (process.needed_sigkill) ++sigkilled;
    if (process.survived) survivors += (survivors.empty() ? "" : ", ") + std::to_string(process.pid);
  }
  std::string text = std::string("(") + (leftovers.size() == 1 ? "pid " : "pids ") + pids + ": " + names + "); " +
                     (leftovers.size() == 1 ? "it was killed" : "they were killed");
  if (sigkilled > 0) {
    text += ", " + (leftovers.size() == 1 ? std::string("with SIGKILL") : std::to_string(sigkilled) + " with SIGKILL") +
            " after ignoring SIGTERM for " + format_duration(kLeftoverGrace);
  }
  if (!survivors.empty()) {
    text += "; still there after SIGKILL and " + format_duration(kLeftoverKillWait) + ": " + survivors;
  }
  return text;
}

// "200 sent, 107 delivered, 93 dropped (queue full: queue_size 5), 4 discarded (not read: ...)"
std::string describe_account(const NodeReport::InputReport& input) {
  const InputAccount& account = input.account;
  std::string text = std::to_string(account.offered) + " sent, " + std::to_string(account.delivered) + " delivered";
  if (account.dropped_queue_full > 0) {
    text += ", " + std::to_string(account.dropped_queue_full) + " dropped (queue full: " +
            (input.backpressure ? "queue_policy backpressure, at most " + std::to_string(input.queue_size) + " queued"
                                : "queue_size " + std::to_string(input.queue_size)) +
            (input.correlated_dropped == 0
                 ? std::string()
                 : "; " + std::to_string(input.correlated_dropped) + " of them service or action messages") +
            ")";
  }
  if (account.dropped_descriptors > 0) {
    text += ", " + std::to_string(account.dropped_descriptors) +
            " dropped (the runner could not hold more shared-memory payloads: --max-payload-fds, RLIMIT_NOFILE)";
  }
  if (account.dropped_too_large > 0) {
    text += ", " + std::to_string(account.dropped_too_large) + " dropped (too large for a frame to this node)";
  }
  if (account.discarded > 0) {
    text += ", " + std::to_string(account.discarded) + " discarded (sent after the node stopped reading, or queued then)";
  }
  const std::uint64_t accounted = account.delivered + account.dropped() + account.discarded;
  if (accounted != account.offered) {  // a runner bug: say so rather than hide it
    text += "; " + std::to_string(static_cast<std::int64_t>(account.offered - accounted)) + " unaccounted for (a dcp bug)";
  }
  return text;
}

}  // namespace

std::string format_summary(const RunReport& report) {
  const std::size_t failed = report.failed_count();
  const std::size_t with_errors = report.reported_errors_count();
  const std::size_t leftovers = report.leftover_count();
  const std::string of_nodes = " of " + plural(report.nodes.size(), "node", "nodes");
  std::string text = "[dcp] ";
  if (report.success()) {
    text += "dataflow succeeded: " +
            (report.nodes.size() == 1 ? std::string("the node") : "all " + std::to_string(report.nodes.size()) + " nodes") +
            " exited with code 0";
  } else {
    std::vector<std::string> parts;
    if (failed > 0) parts.push_back(std::to_string(failed) + of_nodes + " failed");
    if (with_errors > 0) {
      parts.push_back(failed > 0 ? std::to_string(with_errors) + " reported errors"
                                 : std::to_string(with_errors) + of_nodes + " reported errors");
    }
    if (leftovers > 0) {
      parts.push_back(plural(leftovers, "process", "processes") + " left running by nodes had to be killed");
    }
    text += "dataflow failed: ";
    for (std::size_t p = 0; p < parts.size(); ++p) text += (p == 0 ? "" : ", ") + parts[p];
  }
  if (!report.stop_reason.empty()) text += " (stopped: " + report.stop_reason + ")";
  text += '\n';

  const std::vector<std::string> headers = {"node", "pid", "ended", "outputs sent", "inputs delivered", "inputs dropped"};
  std::vector<std::vector<std::string>> rows;
  for (const NodeReport& node : report.nodes) {
    rows.push_back({node.id, node.pid > 0 ? std::to_string(node.pid) : "-", node.describe_end(report.grace, report.start_timeout),
                    std::to_string(node.outputs_sent), std::to_string(node.inputs_delivered),
                    std::to_string(node.inputs_dropped)});
  }
  std::vector<std::size_t> widths;
  for (const std::string& header : headers) widths.push_back(header.size());
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  auto append_row = [&](const std::vector<std::string>& row) {
    std::string line;
    for (std::size_t c = 0; c < row.size(); ++c) {
      const std::size_t pad = widths[c] - row[c].size();
      line += "  ";
      if (c >= 3) line.append(pad, ' ');  // numbers: right-aligned
      line += row[c];
      if (c < 3 && c + 1 < row.size()) line.append(pad, ' ');
    }
    text += line + '\n';
  };
  append_row(headers);
  for (const auto& row : rows) append_row(row);
  for (const NodeReport& node : report.nodes) {
    if (node.reported_errors == 0) continue;
    text += "[dcp] node '" + node.id + "' reported " + std::to_string(node.reported_errors) +
            (node.reported_errors == 1 ? " error" : " errors") + " that lost work; see its 'dcp:' lines above\n";
  }
  for (const NodeReport& node : report.nodes) {
    for (const NodeReport::InputReport& input : node.inputs) {
      if (input.account.delivered == input.account.offered) continue;
      text += "[dcp] input " + node.id + "/" + input.input + ": " + describe_account(input) + "\n";
    }
    for (const NodeReport::InputTimeouts& timeouts : node.timeouts) {
      text += "[dcp] input " + node.id + "/" + timeouts.input + " timed out " + times(timeouts.timeouts) +
              " (input_timeout " + fmt::format("{:g}", timeouts.input_timeout) + " s), recovered " +
              times(timeouts.recoveries) + "\n";
    }
  }
  for (const NodeReport& node : report.nodes) {
    if (node.leftovers.empty()) continue;
    text += "[dcp] warning: node '" + node.id + "' left " + plural(node.leftovers.size(), "process", "processes") +
            " running after it ended " + describe_leftovers(node.leftovers) + "\n";
  }
  if (!report.unowned_leftovers.empty()) {
    text += "[dcp] warning: " + plural(report.unowned_leftovers.size(), "process", "processes") +
            " that nodes started " + (report.unowned_leftovers.size() == 1 ? "was" : "were") +
            " still running when the last node had ended (which node's is unknown) " +
            describe_leftovers(report.unowned_leftovers) + "\n";
  }
  if (leftovers > 0 && !report.leftover_tracking.empty()) {
    text += "[dcp] leftover processes were found through " + report.leftover_tracking + "\n";
  }
  if (report.connections_refused > 0 || report.connections_timed_out > 0) {
    text += "[dcp] connections without Hello: " + std::to_string(report.connections_refused) +
            " refused (more than " + std::to_string(kMaxPendingConnections) + " waiting), " +
            std::to_string(report.connections_timed_out) + " timed out\n";
  }
  for (const RunReport::TimerTicks& timer : report.timers_missed) {
    text += "[dcp] timer " + timer.timer + ": " + std::to_string(timer.missed) + " of " +
            std::to_string(timer.ticks + timer.missed) + " ticks skipped (the runner was busy; as in Dora, missed ticks are not replayed)\n";
  }
  if (report.log_writes_failed > 0) {
    text += "[dcp] " + std::to_string(report.log_writes_failed) + " lines of node output could not be written to " +
            report.log_folder + ": " + report.log_error + "\n";
  }
  if (report.terminal_lines_dropped > 0) {
    text += "[dcp] " + std::to_string(report.terminal_lines_dropped) +
            (report.terminal_lines_dropped == 1 ? " line" : " lines") +
            " of node output " + (report.terminal_lines_dropped == 1 ? "was" : "were") +
            " not shown: the terminal did not take them\n";
  }
  if (report.payload_budget_full > 0) {
    text += "[dcp] the runner's limit of " + std::to_string(report.payload_descriptor_limit) +
            " shared-memory payloads held at once was reached " + times(report.payload_budget_full) +
            " (the messages dropped for it are counted per input above)\n";
  }
  if (report.payload_descriptors_lost > 0) {
    text += "[dcp] " + std::to_string(report.payload_descriptors_lost) +
            " shared-memory messages were lost: the runner had no file descriptor free to receive them\n";
  }
  if (report.accept_pauses > 0) {
    text += "[dcp] accepting connections paused " + std::to_string(report.accept_pauses) +
            " times for lack of file descriptors\n";
  }
  return text;
}

}  // namespace dcp::runner
