// runner_test_node — one small node program with many behaviours, for the `dcp run` integration
// tests (runner_test.cpp). Written with the public node API (dcp/node/node.hpp), as a user's node is.
//
//   runner_test_node <mode> [key=value ...]
//
// Any mode takes sleep_before_ms=N: the node sleeps that long before it connects (dcp::init_node()),
// as a node loading a model would. Every mode prints "ready" once connected, then one line per event it sees (on stdout, which the
// runner prefixes with "[<node id>] "):
//   "input <id> <seq>"   (with print=1; seq from the "seq" metadata parameter or the text payload)
//   "input_closed <id>", "input_recovered <id>", "all_inputs_closed", "stop", "error <message>"
// and at the end a "result ..." line. It exits 0 unless a check failed (exit 1) or it was told to
// fail. Modes:
//   source   count=N [output=out] [interval_ms=0] [size=0] [tick=0] [wait_stop=0] [handler=0]
//            sends N messages with "seq" 0..N-1 (text "<seq>", or `size` bytes with a checksum);
//            tick=1: one message per input event instead of as fast as possible; handler=1:
//            through a dcp::OutputHandler (without tick or interval)
//            wait_stop=1: prints "sent N" once sent, then reads its events until the stream ends
//            say_long=N: first prints a line of N 'x' (a long log line)
//            pause_after=K pause_file=PATH: after K messages, prints "paused" and sends nothing more
//            until PATH exists (gives up after 60 s, exit 1)
//   sink     [expect=N] [strict=0] [print=0] [delay_ms=0] [wait_file=PATH]
//            counts inputs per input id, checks seq increases per input (strict: by exactly 1),
//            verifies big payloads (checksum, shared memory from 4 KiB on); wait_file: reads no
//            event before PATH exists (so the runner queues them; gives up after 60 s, exit 1)
//   chatty   lines=N  prints N numbered lines on stdout, then "done" on stderr, then reads its events
//            until the stream ends (a node whose output the terminal cannot keep up with)
//   leave_behind  how=background|setsid|stubborn pid_file=PATH
//            starts a helper that runs `sleep 1000` and writes its pid to PATH: in the node's process
//            group (background), in a session of its own (setsid: fork, setsid, exec), or ignoring
//            SIGTERM (stubborn); background and setsid exit at once, stubborn reads its events until
//            the stream ends (Stop) — what a node leaves running must not outlive it
//   log_watcher  reads dora/logs inputs: prints "log <input> <node> <stream> <msg>" for each record
//            (msg cut to 40 bytes, then "... (<size> bytes, shm)" when longer) until the stream ends
//   forward  [input=in] [output=out] [crash_after=K crash=exit3|segv]
//   closer   sends 3 messages on `a`, closes `a`, sends 3 on `b`, exits
//   stop_ignorer   ignores Stop and keeps running until killed
//   inspect  prints its working directory, arguments, environment, runtime-directory mode, ...
//   lose_work  errors=N
//            posts N tasks that throw to a dcp::WorkerPool (each is reported: "dcp: worker pool
//            'lossy': ..." on stderr), waits for them, then reads its events to the end (if it has
//            inputs) and exits 0 — a node that ends normally but lost work
//   lose_routed_work  [input=in] [output=out]
//            an EventRouter (pooled handler) and an OutputHandler, both without on_error: for every
//            input the handler queues an output whose metadata breaks the limits (the output
//            handler's send fails: "dcp: output handler '<id>': send of output ..."), then throws
//            ("dcp: event router: input '<input>' handler threw: input <seq> lost"); exits 0 after
//            the stream — two lost results per input, none of them vanishing
#include <dcp/core/worker_pool.hpp>
#include <dcp/node/node.hpp>
#include <dcp/patterns/event_router.hpp>
#include <dcp/patterns/output_handler.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

// The crash test wants a real SIGSEGV, not the sanitizers' report-and-exit(1).
extern "C" const char* __asan_default_options() { return "handle_segv=0:handle_abort=0"; }
extern "C" const char* __tsan_default_options() { return "handle_segv=0:handle_abort=0"; }

namespace {

using Args = std::map<std::string, std::string>;

std::string arg(const Args& args, const std::string& key, const std::string& fallback = "") {
  const auto it = args.find(key);
  return it == args.end() ? fallback : it->second;
}
long number(const Args& args, const std::string& key, long fallback = 0) {
  const auto it = args.find(key);
  return it == args.end() ? fallback : std::strtol(it->second.c_str(), nullptr, 10);
}

void say(const std::string& line) {
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

std::uint64_t fnv1a(std::span<const std::uint8_t> bytes) {
  std::uint64_t hash = 1469598103934665603ull;
  for (const std::uint8_t b : bytes) {
    hash ^= b;
    hash *= 1099511628211ull;
  }
  return hash;
}

void fill_pattern(std::span<std::uint8_t> bytes, std::int64_t seq) {
  for (std::size_t j = 0; j < bytes.size(); ++j) bytes[j] = static_cast<std::uint8_t>((j * 31 + static_cast<std::size_t>(seq) * 7) & 0xff);
}

/// Through a dcp::OutputSender or a dcp::OutputHandler (the same send / send_with calls).
template <class Outputs>
void send_numbered(Outputs& out, const std::string& output, std::int64_t seq, std::size_t size) {
  dcp::Metadata metadata;
  metadata.parameters["seq"] = seq;
  if (size == 0) {
    (void)out.send(output, std::to_string(seq), metadata);
    return;
  }
  std::vector<std::uint8_t> bytes(size);
  fill_pattern(bytes, seq);
  metadata.parameters["checksum"] = static_cast<std::int64_t>(fnv1a(bytes));
  metadata.parameters["size"] = static_cast<std::int64_t>(size);
  if (seq % 2 == 0) {
    (void)out.send(output, std::span<const std::uint8_t>(bytes), metadata);  // copied into the buffer
  } else {
    (void)out.send_with(output, size, [&](std::span<std::uint8_t> target) { fill_pattern(target, seq); }, metadata);
  }
}

std::int64_t seq_of(const dcp::InputEvent& input) {
  if (auto seq = input.metadata.get_int("seq")) return *seq;
  if (input.data.empty()) return -1;
  return std::strtoll(std::string(input.data.as_string()).c_str(), nullptr, 10);
}

// Prints non-input events; returns true when the stream is over.
bool print_control(const dcp::Event& event) {
  if (const auto* closed = std::get_if<dcp::InputClosedEvent>(&event)) {
    say("input_closed " + closed->id);
  } else if (std::holds_alternative<dcp::AllInputsClosedEvent>(event)) {
    say("all_inputs_closed");
  } else if (std::holds_alternative<dcp::StopEvent>(event)) {
    say("stop");
  } else if (const auto* recovered = std::get_if<dcp::InputRecoveredEvent>(&event)) {
    say("input_recovered " + recovered->id);
  } else if (const auto* error = std::get_if<dcp::ErrorEvent>(&event)) {
    say("error " + error->message);
  }
  return false;
}

// Waits until `file` exists (the test creates it once it saw what it waits for); false after 60 s.
bool wait_for_file(const std::string& file) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!std::filesystem::exists(file)) {
    if (std::chrono::steady_clock::now() > give_up) {
      say("file " + file + " never appeared");
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// The value of string field `key` in a flat JSON object as the runner writes log records (no
// escapes expected in the tests' lines); "" when missing.
std::string json_field(std::string_view json, const std::string& key) {
  const std::string head = "\"" + key + "\":\"";
  const std::size_t at = json.find(head);
  if (at == std::string_view::npos) return "";
  const std::size_t start = at + head.size();
  return std::string(json.substr(start, json.find('"', start) - start));
}

int run_chatty(dcp::Node& node, const Args& args) {
  const long lines = number(args, "lines", 1000);
  for (long i = 0; i < lines; ++i) std::printf("line %ld of node output, long enough to fill a pipe soon\n", i);
  std::fflush(stdout);
  std::fputs("done\n", stderr);
  std::fflush(stderr);
  for (dcp::Event& event : node.events) print_control(event);
  return 0;
}

int run_leave_behind(dcp::Node& node, const Args& args) {
  const std::string how = arg(args, "how", "background");
  const pid_t helper = ::fork();
  if (helper < 0) return 1;
  if (helper == 0) {
    if (how == "setsid") ::setsid();
    if (how == "stubborn") ::signal(SIGTERM, SIG_IGN);  // stays ignored across exec
    ::execl("/bin/sleep", "sleep", "1000", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  {
    const std::string path = arg(args, "pid_file");
    std::FILE* file = std::fopen((path + ".tmp").c_str(), "w");
    if (file == nullptr) return 1;
    std::fprintf(file, "%d\n", static_cast<int>(helper));
    std::fclose(file);
    std::filesystem::rename(path + ".tmp", path);  // whole, or not there
  }
  say("started helper");
  if (how == "stubborn") {
    for (dcp::Event& event : node.events) print_control(event);
  }
  return 0;
}

int run_log_watcher(dcp::Node& node) {
  for (dcp::Event& event : node.events) {
    print_control(event);
    const auto* input = std::get_if<dcp::InputEvent>(&event);
    if (input == nullptr) continue;
    const std::string_view record = input->data.as_string();
    std::string msg = json_field(record, "msg");
    if (msg.size() > 40) {
      msg = msg.substr(0, 40) + "... (" + std::to_string(msg.size()) + " bytes" +
            (input->data.is_shared_memory() ? ", shm)" : ")");
    }
    say("log " + input->id + " " + json_field(record, "node") + " " + json_field(record, "stream") + " " + msg);
  }
  return 0;
}

int run_source(dcp::Node& node, const Args& args) {
  const long count = number(args, "count", 10);
  if (const long say_long = number(args, "say_long"); say_long > 0) say(std::string(static_cast<std::size_t>(say_long), 'x'));
  const std::string output = arg(args, "output", "out");
  const auto interval = std::chrono::milliseconds(number(args, "interval_ms", 0));
  const auto size = static_cast<std::size_t>(number(args, "size", 0));
  long sent = 0;
  if (number(args, "tick") != 0) {
    for (dcp::Event& event : node.events) {
      print_control(event);
      if (std::holds_alternative<dcp::InputEvent>(event) && sent < count) send_numbered(node.outputs, output, sent++, size);
      if (sent == count) break;
    }
  } else if (number(args, "handler") != 0) {  // the OutputHandler's thread sends; send_with fills here
    dcp::OutputHandler handler(std::move(node.outputs), {.overflow = dcp::Overflow::block});
    for (; sent < count; ++sent) send_numbered(handler, output, sent, size);
    // the destructor sends what is still queued, then destroys the sender
  } else {
    const long pause_after = number(args, "pause_after", -1);
    for (; sent <= count; ++sent) {
      if (sent == pause_after) {
        say("paused");
        if (!wait_for_file(arg(args, "pause_file"))) return 1;
      }
      if (sent == count) break;
      send_numbered(node.outputs, output, sent, size);
      if (interval.count() > 0) std::this_thread::sleep_for(interval);
    }
  }
  if (number(args, "wait_stop") != 0) {
    say("sent " + std::to_string(sent));
    for (dcp::Event& event : node.events) print_control(event);
  }
  say("result sent=" + std::to_string(sent));
  return 0;
}

int run_sink(dcp::Node& node, const Args& args) {
  const long expect = number(args, "expect", -1);
  const bool strict = number(args, "strict") != 0;
  const bool print = number(args, "print") != 0;
  const auto delay = std::chrono::milliseconds(number(args, "delay_ms", 0));
  if (const std::string file = arg(args, "wait_file"); !file.empty() && !wait_for_file(file)) return 1;
  std::map<std::string, std::int64_t> last;
  std::map<std::string, long> counts;
  long received = 0, big_ok = 0, big_bad = 0, shm = 0, order_bad = 0;
  for (dcp::Event& event : node.events) {
    print_control(event);
    auto* input = std::get_if<dcp::InputEvent>(&event);
    if (input == nullptr) continue;
    ++received;
    ++counts[input->id];
    if (input->data.is_shared_memory()) ++shm;
    if (auto checksum = input->metadata.get_int("checksum")) {
      const bool ok = static_cast<std::int64_t>(fnv1a(input->data.bytes())) == *checksum &&
                      static_cast<std::int64_t>(input->data.size()) == input->metadata.get_int("size").value_or(-1) &&
                      input->data.is_shared_memory() == (input->data.size() >= 4096);
      ok ? ++big_ok : ++big_bad;
      if (!ok) say("bad payload on " + input->id + " size " + std::to_string(input->data.size()));
    }
    const std::int64_t seq = seq_of(*input);
    if (print) say("input " + input->id + " " + std::to_string(seq));
    if (input->metadata.get_int("seq")) {
      auto it = last.find(input->id);
      if (it != last.end() && (strict ? seq != it->second + 1 : seq <= it->second)) {
        ++order_bad;
        say("order violation on " + input->id + ": " + std::to_string(it->second) + " then " + std::to_string(seq));
      }
      if (it == last.end() && strict && seq != 0) ++order_bad;
      last[input->id] = seq;
    }
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
  }
  std::string line = "result received=" + std::to_string(received) + " order=" + (order_bad == 0 ? "ok" : "bad");
  for (const auto& [id, count] : counts) line += " " + id + "=" + std::to_string(count);
  for (const auto& [id, seq] : last) line += " last_" + id + "=" + std::to_string(seq);
  line += " big_ok=" + std::to_string(big_ok) + " big_bad=" + std::to_string(big_bad) + " shm=" + std::to_string(shm);
  say(line);
  if (order_bad != 0 || big_bad != 0) return 1;
  if (expect >= 0 && received != expect) return 1;
  return 0;
}

int run_forward(dcp::Node& node, const Args& args) {
  const std::string output = arg(args, "output", "out");
  const long crash_after = number(args, "crash_after", -1);
  const std::string crash = arg(args, "crash", "exit3");
  long forwarded = 0;
  for (dcp::Event& event : node.events) {
    print_control(event);
    auto* input = std::get_if<dcp::InputEvent>(&event);
    if (input == nullptr) continue;
    node.outputs.send(output, input->data, input->metadata);
    ++forwarded;
    if (forwarded == crash_after) {
      say("crashing (" + crash + ") after " + std::to_string(forwarded));
      if (crash == "segv") {
        const rlimit no_core{0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);  // no core file in the test folder
        ::raise(SIGSEGV);
      }
      std::_Exit(3);
    }
  }
  say("result forwarded=" + std::to_string(forwarded));
  return 0;
}

int run_closer(dcp::Node& node) {
  for (int i = 0; i < 3; ++i) send_numbered(node.outputs, "a", i, 0);
  node.outputs.close_outputs({"a"});
  for (int i = 0; i < 3; ++i) send_numbered(node.outputs, "b", i, 0);
  say("result sent=6");
  return 0;
}

int run_stop_ignorer(dcp::Node& node) {
  for (;;) {
    dcp::EventResult result = node.events.next_for(std::chrono::milliseconds(50));
    if (result.ok()) {
      if (std::holds_alternative<dcp::StopEvent>(*result)) say("got stop, ignoring it");
      else print_control(*result);
    }
    if (result.is_ended()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

int run_inspect(dcp::Node& node, int argc, char** argv) {
  say("cwd=" + std::filesystem::current_path().string());
  for (int i = 2; i < argc; ++i) say("arg=" + std::string(argv[i]));
  const char* value = std::getenv("RUNNER_TEST_VALUE");
  say(std::string("env RUNNER_TEST_VALUE=") + (value ? value : "(unset)"));
  say(std::string("env DCP_NODE_ID=") + (std::getenv("DCP_NODE_ID") ? std::getenv("DCP_NODE_ID") : "(unset)"));
  const char* socket = std::getenv("DCP_RUNNER_SOCKET");
  if (socket != nullptr) {
    struct stat status{};
    const std::string dir = std::filesystem::path(socket).parent_path().string();
    if (::stat(dir.c_str(), &status) == 0) {
      char mode[16];
      std::snprintf(mode, sizeof(mode), "%o", status.st_mode & 07777);
      say(std::string("runtime_dir_mode=") + mode);
    }
    say("socket=" + std::string(socket));
  }
  char byte = 0;
  say(std::string("stdin=") + (::read(STDIN_FILENO, &byte, 1) == 0 ? "eof" : "data"));
  say(std::string("own_process_group=") + (::getpgid(0) == ::getpid() ? "yes" : "no"));
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  say("nofile_soft=" + std::to_string(files.rlim_cur));
  // The connection it inherited (init_node() took it): close-on-exec now, so a program the node
  // starts sees no socket among its descriptors.
  const char* inherited = std::getenv("DCP_NODE_FD");
  say(std::string("env DCP_NODE_FD=") + (inherited ? inherited : "(unset)"));
  if (inherited != nullptr) {
    const int flags = ::fcntl(std::atoi(inherited), F_GETFD);
    say(std::string("inherited_fd_cloexec=") + (flags >= 0 && (flags & FD_CLOEXEC) != 0 ? "yes" : "no"));
  }
  std::fflush(stdout);
  if (std::system("ls -l /proc/self/fd | sed 's/^/child_fd /'") != 0) say("child_fd listing failed");
  std::fputs("to stderr\n", stderr);
  std::fflush(stderr);
  for (dcp::Event& event : node.events) print_control(event);
  std::fputs("partial line without newline", stdout);  // the runner must still show it
  std::fflush(stdout);
  return 0;
}

int run_lose_work(dcp::Node& node, const Args& args) {
  const long errors = number(args, "errors", 1);
  {
    dcp::WorkerPool pool({.threads = 1, .name = "lossy"});
    for (long i = 0; i < errors; ++i) {
      if (!pool.post([i] { throw std::runtime_error("result " + std::to_string(i) + " lost"); })) return 1;
    }
  }  // drained: every error is reported before the node reads on
  long inputs = 0;
  if (!node.events.inputs().empty()) {
    for (dcp::Event& event : node.events) {
      if (std::holds_alternative<dcp::InputEvent>(event)) ++inputs;
      print_control(event);
    }
  }
  say("result posted=" + std::to_string(errors) + " inputs=" + std::to_string(inputs));
  return 0;
}

int run_lose_routed_work(dcp::Node& node, const Args& args) {
  const std::string input = arg(args, "input", "in");
  const std::string output = arg(args, "output", "out");
  dcp::Metadata too_many;  // OutputSender::send refuses it, on the output handler's thread
  for (std::size_t i = 0; i <= dcp::kMaxParameters; ++i) {
    std::string key = "p";  // appended: g++ 12 -O3 warns falsely about "literal" + std::string
    key += std::to_string(i);
    too_many.parameters.emplace(std::move(key), static_cast<std::int64_t>(i));
  }
  long inputs = 0;
  {
    // Destroyed in reverse: the router drains its handlers, the pool ends, then the output handler
    // sends (here: fails) what is queued and destroys the sender.
    dcp::OutputHandler outputs(std::move(node.outputs));
    dcp::WorkerPool pool({.threads = 1, .name = "routed"});
    dcp::EventRouter router(pool);
    router.on_input(input, [&](const dcp::InputEvent& event, const dcp::InputContext&) {
      (void)outputs.send(output, "result", too_many);
      throw std::runtime_error("input " + std::string(event.data.as_string()) + " lost");
    });
    router.add_input_observer([&](const dcp::InputEvent&) { ++inputs; });  // on the loop thread
    router.on_stop([] { say("stop"); });
    router.on_all_inputs_closed([] { say("all_inputs_closed"); });
    (void)router.run(node.events);
  }
  say("result inputs=" + std::to_string(inputs));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: runner_test_node <mode> [key=value ...]\n");
    return 2;
  }
  const std::string mode = argv[1];
  Args args;
  for (int i = 2; i < argc; ++i) {
    const std::string word = argv[i];
    const auto equals = word.find('=');
    if (equals != std::string::npos) args[word.substr(0, equals)] = word.substr(equals + 1);
  }
  try {
    if (const long delay = number(args, "sleep_before_ms"); delay > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    }
    dcp::Node node = dcp::init_node();
    say("ready");
    if (mode == "source") return run_source(node, args);
    if (mode == "sink") return run_sink(node, args);
    if (mode == "log_watcher") return run_log_watcher(node);
    if (mode == "leave_behind") return run_leave_behind(node, args);
    if (mode == "chatty") return run_chatty(node, args);
    if (mode == "forward") return run_forward(node, args);
    if (mode == "closer") return run_closer(node);
    if (mode == "stop_ignorer") return run_stop_ignorer(node);
    if (mode == "inspect") return run_inspect(node, argc, argv);
    if (mode == "lose_work") return run_lose_work(node, args);
    if (mode == "lose_routed_work") return run_lose_routed_work(node, args);
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "runner_test_node %s: %s\n", mode.c_str(), e.what());
    return 4;
  }
}
