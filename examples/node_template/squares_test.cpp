// Unit test of the template node's logic under dcp::testing::NodeHarness: no processes, scripted
// inputs, captured outputs. Plain asserts (no test framework needed); exit 0 means pass.
#include <dcp/node/node_harness.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>
#include <thread>

#include "squares.hpp"

namespace {

void check(bool condition, const char* what) {
  if (!condition) {
    std::fprintf(stderr, "squares_test: FAILED: %s\n", what);
    std::exit(1);
  }
}

}  // namespace

int main() {
  using namespace std::chrono_literals;
  check(squares::compute(3) == 14, "compute(3) == 1 + 4 + 9");

  dcp::testing::NodeHarness harness("squares", {"tick"}, {"result"});
  squares::Summary summary;
  std::thread node_thread([&summary, node = harness.node()]() mutable { summary = squares::run(node); });

  for (int i = 0; i < 3; ++i) harness.push_input("tick", "");
  std::set<std::string> results;  // workers may finish in any order
  for (int i = 0; i < 3; ++i) {
    auto output = harness.next_output(10s);  // only catches a hang
    check(output.has_value(), "a result for every tick");
    check(output->id == "result", "results go to the `result` output");
    results.insert(std::string(output->text()));
  }
  harness.push_stop();
  node_thread.join();

  check(results.count("tick 1: " + std::to_string(squares::compute(1000))) == 1, "tick 1's result");
  check(results.count("tick 2: " + std::to_string(squares::compute(2000))) == 1, "tick 2's result");
  check(results.count("tick 3: " + std::to_string(squares::compute(3000))) == 1, "tick 3's result");
  check(summary.ticks == 3 && summary.results == 3, "the summary counts 3 ticks and 3 results");
  std::puts("squares_test: passed");
  return 0;
}
