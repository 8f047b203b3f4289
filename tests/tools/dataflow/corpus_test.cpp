// The dataflow corpus: small YAML files written for dcp, each exercising one feature of the YAML
// Dora accepts. `dcp check` must accept every file in corpus/good/ and refuse every file in
// corpus/bad/ with the messages its `# expect: line:col: field: reason` comments give (each one
// the start of a "dcp check: <file>:..." line of stderr; several expectations: all of them, in
// one run).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "run_dcp.hpp"

namespace {

namespace fs = std::filesystem;
using dcp::test::run_dcp;
using dcp::test::RunResult;

std::vector<fs::path> corpus_files(const std::string& folder) {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(fs::path(DCP_DATAFLOW_CORPUS) / folder)) {
    if (entry.path().extension() == ".yml") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<std::string> expectations(const fs::path& file) {
  std::vector<std::string> expected;
  std::ifstream in(file);
  const std::string marker = "# expect: ";
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(marker, 0) == 0) expected.push_back(line.substr(marker.size()));
  }
  return expected;
}

TEST(Corpus, EveryGoodFile_IsAccepted) {
  const std::vector<fs::path> files = corpus_files("good");
  ASSERT_GE(files.size(), 10u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    const RunResult r = run_dcp({"check", "--no-exec-check", file.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(r.out.ends_with("ok\n")) << r.out;
  }
}

TEST(Corpus, EveryBadFile_IsRefusedWithItsExpectedMessages) {
  const std::vector<fs::path> files = corpus_files("bad");
  ASSERT_GE(files.size(), 10u);
  for (const fs::path& file : files) {
    SCOPED_TRACE(file.filename().string());
    const std::vector<std::string> expected = expectations(file);
    ASSERT_FALSE(expected.empty()) << "no '# expect:' line";
    const RunResult r = run_dcp({"check", "--no-exec-check", file.string()});
    EXPECT_EQ(r.exit_code, 1);
    for (const std::string& message : expected) {
      EXPECT_NE(r.err.find("dcp check: " + file.string() + ":" + message), std::string::npos)
          << "expected: " << message << "\ngot:\n"
          << r.err;
    }
  }
}

}  // namespace
