// The dataflow loader: YAML text -> validated Dataflow, or all its problems as one DataflowError.
//
// Structure: Parser walks the YAML document once, in file order (pass 1: shape, ids, fields), then
// resolves every `node/output` reference against the complete node list (pass 2), then checks the
// executables (pass 3). The problems of all passes are sorted by position at the end.
//
// Collecting every problem: `fail` throws a Problem; `attempt` runs one independent piece (a map
// member, a list element, a reference, an executable), records a Problem it throws and lets the
// walk go on with the next piece, which then knows nothing of the one that failed. A problem that
// leaves nothing to walk (a YAML syntax error, a top level that is not a map) simply reaches
// parse(), which records it too. Exceeding the text budget throws Unrecoverable, which no
// `attempt` catches: the walk stops there.
//
// Robustness rules, kept by every function here (the fuzzer in tests/fuzz checks them):
//   - never recurse into the document: yaml-cpp aliases can build cycles (`&a [*a]`); the walk only
//     descends the fixed shape top level -> nodes -> node -> inputs/outputs/env -> input;
//   - check a collection's size before iterating it, and charge every string taken from the
//     document to a budget (kMaxExpandedText), so aliases cannot multiply work or memory;
//   - never use yaml-cpp's operator[] (on non-const nodes it inserts) or as<T>() (it throws
//     exceptions of its own); read Type() and Scalar() and decide here.
#include "dataflow/loader.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "dataflow/args.hpp"
#include "dataflow/expand.hpp"
#include "dataflow/program_search.hpp"
#include "text.hpp"

namespace dcp::dataflow {
namespace {

namespace fs = std::filesystem;
using detail::escape;
using detail::quote;

constexpr std::string_view kNodeFields =
    "id, name, description, path, args, env, build, inputs, outputs";

// Dora node fields outside dcp's subset. Named in the error rather than reported as unknown, so
// that the user knows the file is fine for Dora itself.
// clang-format off
constexpr std::array<std::string_view, 6> kUnsupportedNodeFields = {
    // other kinds of nodes and sources
    "operators", "operator", "ros2", "module", "hub",
    // distribution
    "shared_memory_pool_size"};

// Dora's git sources of a node: dcp never fetches anything.
constexpr std::array<std::string_view, 4> kGitFields = {"git", "branch", "tag", "rev"};


// Keys that older Dora versions or other tools had, and that Dora (1.0) rejects as unknown
// (its Descriptor and Node are `deny_unknown_fields`): never "Dora would accept it".
constexpr std::array<std::string_view, 3> kNotDoraNodeFields = {"custom", "_unstable_deploy",
                                                               "startup_timeout"};
constexpr std::array<std::string_view, 3> kNotDoraTopLevelFields = {
    "communication", "_unstable_deploy", "_unstable_debug"};

// Node fields Dora has that `dcp check` accepts, with their types checked, and `dcp run` refuses
// (Dataflow::run_limitations).
enum class FieldType {
  number,             // f64: an integer or decimal
  count,              // u32
  string,             //
  boolean,            // true / false
  restart_policy,     // never | on-failure | always
  log_level,          // stdout | error | warn | info | debug | trace (any case)
  indices,            // a list of usize (cpu_affinity)
  strings,            // a map of data ids to strings (output_types, input_types)
  string_lists,       // a map of data ids to lists of strings (output_metadata)
  framings,           // a map of data ids to raw | arrow-ipc (output_framing)
  string_map,         // a map of strings to strings (deploy labels)
  deploy,             // {machine, working_dir, labels, distribute}
  debug,              // {enable_debug_inspection}
  type_rules,         // a list of {from, to}
};
struct RunLimitedField {
  std::string_view name;
  FieldType type;
};
constexpr std::array<RunLimitedField, 20> kRunLimitedNodeFields = {{
    {"restart_policy", FieldType::restart_policy},
    {"max_restarts", FieldType::count},
    {"restart_delay", FieldType::number},
    {"max_restart_delay", FieldType::number},
    {"restart_window", FieldType::number},
    {"health_check_timeout", FieldType::number},
    {"send_stdout_as", FieldType::string},
    {"send_logs_as", FieldType::string},
    {"min_log_level", FieldType::log_level},
    {"max_log_size", FieldType::string},
    {"max_rotated_files", FieldType::count},
    {"finish_grace_secs", FieldType::number},
    {"cpu_affinity", FieldType::indices},
    {"deploy", FieldType::deploy},
    {"output_types", FieldType::strings},
    {"input_types", FieldType::strings},
    {"output_metadata", FieldType::string_lists},
    {"output_framing", FieldType::framings},
    {"pattern", FieldType::string},
    {"path_sha256", FieldType::string},
}};
constexpr std::array<RunLimitedField, 5> kRunLimitedTopLevelFields = {{
    {"deploy", FieldType::deploy},
    {"debug", FieldType::debug},
    {"strict_types", FieldType::boolean},
    {"exit_when_nodes_finish", FieldType::boolean},
    {"type_rules", FieldType::type_rules},
}};
// clang-format on

template <std::size_t N>
bool contains(const std::array<std::string_view, N>& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string not_yet(std::string_view what) {
  return fmt::format("{} is not supported by dcp run yet", what);
}

std::string not_dora(std::string_view field) {
  return fmt::format("{} is not a Dora field (Dora rejects it too)", quote(field));
}

std::string unsupported(std::string_view what) {
  return fmt::format("{} is not supported by the dcp local runner (use Dora for it)", what);
}

const char* kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      return "a string";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

SourceLocation location_of(const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0 || mark.column < 0) return {};
  // yaml-cpp's marks are 0-based; ints cannot overflow for a 4 MiB file.
  return SourceLocation{mark.line + 1, mark.column + 1};
}

// A key is shown as `.key` in field paths when it is plain, as `["key"]` otherwise.
bool is_plain_key(std::string_view key) {
  if (key.empty() || key.size() > 64) return false;
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string member(const std::string& parent, std::string_view key) {
  if (is_plain_key(key)) return parent.empty() ? std::string(key) : parent + "." + std::string(key);
  return parent + "[" + detail::quote_double(key, 32) + "]";
}

std::string element(const std::string& parent, std::size_t index) {
  return fmt::format("{}[{}]", parent, index);
}

// "a, b, c" or "a, b, ... and 12 more".
std::string list_names(const std::vector<std::string>& names) {
  constexpr std::size_t kShown = 10;
  std::string out;
  for (std::size_t i = 0; i < names.size() && i < kShown; ++i) {
    if (i > 0) out += ", ";
    out += names[i];
  }
  if (names.size() > kShown) out += fmt::format(", ... and {} more", names.size() - kShown);
  return out;
}

enum class IdKind { node, data };

// Why `id` is not a valid node or data id (Dora's rules, see dataflow.hpp), or nullopt if it is.
std::optional<std::string> id_problem(std::string_view id, IdKind kind) {
  if (id.empty()) return "it is empty";
  if (id.size() > kMaxIdLength) {
    return fmt::format("it is {} characters long (the limit is {})", id.size(), kMaxIdLength);
  }
  const std::string_view allowed = kind == IdKind::node
                                       ? "(node ids use only letters, digits, '_', '.' and '-')"
                                       : "(input and output ids use only letters, digits, '_', "
                                         "'.', '/' and '-')";
  for (const char c : id) {
    if (static_cast<unsigned char>(c) >= 0x80) {
      return fmt::format("non-ASCII characters are not allowed {}", allowed);
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || (c == '/' && kind == IdKind::data);
    if (!ok) return fmt::format("character {} is not allowed {}", quote(std::string(1, c)), allowed);
  }
  if (kind == IdKind::node && id.front() == '.') return std::string("it must not start with '.'");
  if (kind == IdKind::data &&
      (id.front() == '/' || id.back() == '/' || id.find("//") != std::string_view::npos)) {
    return std::string("a '/' must stand between two non-empty parts");
  }
  return std::nullopt;
}

// Parses the decimal digits of `text` (nothing else: no sign, no spaces). nullopt if `text` is
// empty, has another character, or exceeds `max`.
std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

bool has_nul(std::string_view text) { return text.find('\0') != std::string_view::npos; }

// An input whose `node/output` source is resolved in pass 2.
struct PendingReference {
  std::size_t node_index = 0;
  std::size_t input_index = 0;
  SourceLocation location;  // of the source text
  std::string field;        // e.g. nodes[2].inputs.estop or nodes[2].inputs.estop.source
};

// Per node, what pass 1 remembers beyond the model.
struct NodeMarks {
  SourceLocation id;
  SourceLocation path;
  std::string field;             // nodes[i]
  bool outputs_complete = true;  // false: a problem in `outputs` is reported; pass 2 trusts no miss
};

// A problem the walk can go past (see `attempt`).
struct Problem {
  Diagnostic diagnostic;
};

// A problem that ends the walk: the text budget is spent (going on would multiply the work).
struct Unrecoverable {
  Diagnostic diagnostic;
};

// One key/value of a YAML map, as for_each_member hands it over.
struct Member {
  YAML::Node key;
  YAML::Node value;
  std::string name;              // the key's text
  SourceLocation key_location;
  SourceLocation value_location;  // see value_location()
  std::string field;             // the parent's field path + the key
};

// Records where each YAML document starts; nothing else. Used to count documents before building
// one, because yaml-cpp 0.7 never finishes YAML::LoadAll on a stray ',' at document level: it
// reports an empty document there without consuming the ',', forever (and keeps allocating).
class DocumentStarts final : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> marks;

  void OnDocumentStart(const YAML::Mark& mark) override { marks.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

class Parser {
 public:
  Parser(std::string display_name, fs::path base_dir, LoadOptions options)
      : name_(std::move(display_name)), base_dir_(std::move(base_dir)), options_(options) {}

  // The dataflow, or a DataflowError with every problem found, sorted by position.
  Dataflow parse(std::string_view text) {
    Dataflow dataflow;
    try {
      dataflow = walk(text);
    } catch (const Problem& problem) {
      record(problem.diagnostic);
    } catch (const Unrecoverable& problem) {
      record(problem.diagnostic);
    }
    if (found_ > 0) {
      sort_and_keep_reported();
      // Counted before the list is moved into the argument (argument evaluation order is unspecified).
      const std::size_t omitted = found_ - diagnostics_.size();
      throw DataflowError(name_, std::move(diagnostics_), omitted);
    }
    return dataflow;
  }

 private:
  Dataflow walk(std::string_view text) {
    if (text.size() > kMaxFileSize) {
      fail({}, "",
           fmt::format("the dataflow is too large: {} bytes (the limit is {} bytes, 4 MiB)",
                       text.size(), kMaxFileSize));
    }
    check_single_document(text);
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::DeepRecursion& e) {
      // yaml-cpp's own message for this one is "bad file".
      fail(location_of(e.mark), "", "YAML syntax error: the document nests too deeply");
    } catch (const YAML::Exception& e) {
      fail(location_of(e.mark), "", "YAML syntax error: " + escape(e.msg));
    }
    Dataflow dataflow;
    dataflow.name = name_;
    dataflow.base_dir = base_dir_;
    try {
      parse_top_level(root, dataflow);
      resolve_references(dataflow);
      if (options_.check_executables) check_executables(dataflow);
    } catch (const YAML::Exception& e) {
      // Not expected (the walk only reads types and scalars), but never let one escape.
      fail(location_of(e.mark), "", "YAML error: " + escape(e.msg));
    }
    std::stable_sort(limitations_.begin(), limitations_.end(), by_position);
    dataflow.run_limitations = std::move(limitations_);
    return dataflow;
  }

  static bool by_position(const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.location.line, a.location.column) <
           std::pair(b.location.line, b.location.column);
  }

  // Notes something Dora accepts but `dcp run` cannot do yet (Dataflow::run_limitations).
  void limit(SourceLocation location, std::string field, std::string reason) {
    charge(field.size() + reason.size(), location, field);
    limitations_.push_back(Diagnostic{location, std::move(field), std::move(reason)});
  }

  [[noreturn]] static void fail(SourceLocation location, std::string field, std::string reason) {
    throw Problem{Diagnostic{location, std::move(field), std::move(reason)}};
  }

  // Keeps `diagnostic` if it may be among the first kMaxReportedDiagnostics by position; counts
  // it either way. Its text is charged to the budget, so that a file cannot make the walk format
  // an unbounded number of messages.
  void record(Diagnostic diagnostic) {
    ++found_;
    expanded_ += diagnostic.field.size() + diagnostic.reason.size();
    diagnostics_.push_back(std::move(diagnostic));
    if (diagnostics_.size() >= 2 * kMaxReportedDiagnostics) sort_and_keep_reported();
  }

  void sort_and_keep_reported() {
    std::stable_sort(diagnostics_.begin(), diagnostics_.end(), by_position);
    if (diagnostics_.size() > kMaxReportedDiagnostics) diagnostics_.resize(kMaxReportedDiagnostics);
  }

  // Runs `piece`; records the Problem it throws, if any. True if it threw none.
  template <typename Piece>
  bool attempt(Piece&& piece) {
    try {
      std::forward<Piece>(piece)();
      return true;
    } catch (const Problem& problem) {
      record(problem.diagnostic);
      return false;
    }
  }

  // Calls visit(const Member&) for each key of `map` (at field path `field`), in file order, each
  // in its own `attempt`. A key that is not a string, or that was seen before in this map (yaml-cpp
  // keeps duplicate keys; `what` names them: "duplicate <what> 'k'"), is reported and not visited.
  // Returns the keys seen, with where each first stands.
  template <typename Visit>
  std::map<std::string, SourceLocation> for_each_member(const YAML::Node& map,
                                                        const std::string& field,
                                                        std::string_view what, Visit&& visit) {
    std::map<std::string, SourceLocation> seen;
    for (auto it = map.begin(); it != map.end(); ++it) {
      attempt([&] {
        Member m{it->first, it->second, {}, {}, {}, {}};
        m.name = key_text(m.key, field);
        m.key_location = location_of(m.key.Mark());
        m.value_location = value_location(m.key, m.value);
        m.field = member(field, m.name);
        const auto [first, inserted] = seen.emplace(m.name, m.key_location);
        if (!inserted) {
          fail(m.key_location, m.field,
               fmt::format("duplicate {} {} (first at line {})", what, quote(m.name),
                           first->second.line));
        }
        visit(static_cast<const Member&>(m));
      });
    }
    return seen;
  }

  // Fails unless `text` holds at most one YAML document. Reads at most three documents, so it
  // ends even where yaml-cpp would report empty documents at the same place forever.
  void check_single_document(std::string_view text) const {
    DocumentStarts starts;
    try {
      std::istringstream stream{std::string(text)};
      YAML::Parser parser(stream);
      while (starts.marks.size() < 3 && parser.HandleNextDocument(starts)) {
      }
    } catch (const YAML::DeepRecursion& e) {
      fail(location_of(e.mark), "", "YAML syntax error: the document nests too deeply");
    } catch (const YAML::Exception& e) {
      fail(location_of(e.mark), "", "YAML syntax error: " + escape(e.msg));
    }
    const std::vector<YAML::Mark>& marks = starts.marks;
    for (std::size_t i = 1; i < marks.size(); ++i) {
      if (marks[i].pos == marks[i - 1].pos) {  // no progress: a token the parser cannot place
        const auto pos = static_cast<std::size_t>(marks[i].pos);
        std::string reason = "YAML syntax error: unexpected content";
        if (pos < text.size()) {
          reason = "YAML syntax error: unexpected " + quote(text.substr(pos, 1));
          if (text[pos] == ',') reason += " (',' separates items only inside [...] or {...})";
        }
        fail(location_of(marks[i]), "", reason);
      }
    }
    if (marks.size() > 1) {
      fail(location_of(marks[1]), "",
           "the file holds more than one YAML document; a dataflow is a single document");
    }
  }

  // Where to point for a value: the value itself, or for an empty value (an implicit null, which
  // yaml-cpp places wherever the next token starts) the key it belongs to.
  static SourceLocation value_location(const YAML::Node& key, const YAML::Node& value) {
    if (value.IsNull()) return location_of(key.Mark());
    return location_of(value.Mark());
  }

  void charge(std::size_t bytes, SourceLocation location, const std::string& field) {
    expanded_ += bytes + 1;  // +1: even an empty string costs a step
    if (expanded_ > kMaxExpandedText) {
      throw Unrecoverable{Diagnostic{
          location, field,
          fmt::format("the dataflow expands to more than {} bytes of text (YAML aliases used too "
                      "many times?)",
                      kMaxExpandedText)}};
    }
  }

  // The text of scalar `value`, charged to the budget. Fails if it is not a scalar.
  std::string scalar(const YAML::Node& value, SourceLocation location, const std::string& field,
                     std::string_view what) {
    if (!value.IsScalar()) {
      fail(location, field, fmt::format("{} must be a string, got {}", what, kind_name(value)));
    }
    const std::string& text = value.Scalar();
    charge(text.size(), location, field);
    return text;
  }

  // The text of a map key; keys must be scalars.
  std::string key_text(const YAML::Node& key, const std::string& parent) {
    const SourceLocation location = location_of(key.Mark());
    if (!key.IsScalar()) {
      fail(location, parent, fmt::format("keys must be strings, got {}", kind_name(key)));
    }
    const std::string& text = key.Scalar();
    charge(text.size(), location, parent);
    return text;
  }

  std::string valid_id(const YAML::Node& value, SourceLocation location, const std::string& field,
                       std::string_view what, IdKind kind) {
    if (value.IsNull()) fail(location, field, fmt::format("{} is empty", what));
    std::string id = scalar(value, location, field, what);
    if (auto problem = id_problem(id, kind)) {
      fail(location, field, fmt::format("invalid {} {}: {}", what, quote(id), *problem));
    }
    return id;
  }

  // The number (integer or decimal, as YAML and Rust's f64 read it) in m.value; `unit` names
  // what it counts in the error.
  double number(const Member& m, std::string_view what, std::string_view unit) {
    const std::string text =
        m.value.IsScalar() ? scalar(m.value, m.value_location, m.field, what) : std::string();
    std::string_view digits = text;
    if (!digits.empty() && digits.front() == '+') digits.remove_prefix(1);
    double value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (!m.value.IsScalar() || digits.empty() || error != std::errc() ||
        end != digits.data() + digits.size() || !std::isfinite(value)) {
      fail(m.value_location, m.field,
           fmt::format("{} must be a number ({}), got {}", what, unit,
                       m.value.IsScalar() ? quote(text) : kind_name(m.value)));
    }
    return value;
  }

  // A number of seconds as Dora checks one: finite, not negative (and not zero unless
  // `allow_zero`). Above kMaxTimingSeconds, an interval (no zero) is something dcp run cannot do
  // (a run limitation); a timeout that long simply never fires.
  double seconds(const Member& m, std::string_view what, bool allow_zero) {
    const double value = number(m, what, "seconds");
    if (value < 0 || (!allow_zero && value == 0)) {
      fail(m.value_location, m.field,
           fmt::format("{} must be a {} number of seconds, got {} (Dora rejects it too)", what,
                       allow_zero ? "non-negative" : "positive", quote(m.value.Scalar())));
    }
    if (!allow_zero && value > kMaxTimingSeconds) {
      limit(m.value_location, m.field,
           fmt::format("{} {} is longer than dcp run can time ({:g} s)", what,
                       quote(m.value.Scalar()), kMaxTimingSeconds));
    }
    return value;
  }

  template <std::size_t N>
  static const RunLimitedField* run_limited_field(const std::array<RunLimitedField, N>& fields,
                                                  std::string_view name) {
    for (const RunLimitedField& field : fields) {
      if (field.name == name) return &field;
    }
    return nullptr;
  }

  // One of `choices` (a value of a Rust enum), or a failure naming them.
  void check_choice(const Member& m, std::initializer_list<std::string_view> choices) {
    const std::string text = scalar(m.value, m.value_location, m.field, m.name);
    for (const std::string_view choice : choices) {
      if (text == choice) return;
    }
    std::string names;
    for (const std::string_view choice : choices) {
      names += (names.empty() ? "'" : ", '") + std::string(choice) + "'";
    }
    fail(m.value_location, m.field,
         fmt::format("{} must be one of {}, got {}", m.name, names, quote(text)));
  }

  // A map (or null); calls visit(const Member&) for each entry.
  template <typename Visit>
  void check_map(const Member& m, std::string_view what, Visit&& visit) {
    if (m.value.IsNull()) return;
    if (!m.value.IsMap()) {
      fail(m.value_location, m.field,
           fmt::format("{} must be a map of {}, got {}", m.name, what, kind_name(m.value)));
    }
    if (m.value.size() > kMaxInputsPerNode) {
      fail(m.value_location, m.field, fmt::format("{} has too many entries", m.name));
    }
    for_each_member(m.value, m.field, "entry", visit);
  }

  // A list (or null); calls visit(const Member&) for each element (as a Member named by index).
  template <typename Visit>
  void check_list(const Member& m, std::string_view what, Visit&& visit) {
    if (m.value.IsNull()) return;
    if (!m.value.IsSequence()) {
      fail(m.value_location, m.field,
           fmt::format("{} must be a list of {}, got {}", m.name, what, kind_name(m.value)));
    }
    if (m.value.size() > kMaxInputsPerNode) {
      fail(m.value_location, m.field, fmt::format("{} has too many entries", m.name));
    }
    std::size_t index = 0;
    for (auto it = m.value.begin(); it != m.value.end(); ++it, ++index) {
      attempt([&] {
        Member e{m.key, *it, m.name, m.key_location, location_of(it->Mark()),
                 element(m.field, index)};
        visit(static_cast<const Member&>(e));
      });
    }
  }

  void check_data_id_key(const Member& e) {
    if (auto problem = id_problem(e.name, IdKind::data)) {
      fail(e.key_location, e.field, fmt::format("invalid output id {}: {}", quote(e.name), *problem));
    }
  }

  // Checks m.value against Dora's type of the field.
  void check_type(const Member& m, FieldType type) {
    switch (type) {
      case FieldType::boolean: {
        const std::string text = scalar(m.value, m.value_location, m.field, m.name);
        if (text != "true" && text != "false") {
          fail(m.value_location, m.field,
               fmt::format("{} must be true or false, got {}", m.name, quote(text)));
        }
        return;
      }
      case FieldType::indices:
        check_list(m, "CPU indices", [&](const Member& e) {
          const std::string text =
              e.value.IsScalar() ? scalar(e.value, e.value_location, e.field, "index") : "";
          if (!e.value.IsScalar() || !parse_decimal(text, 1u << 20)) {
            fail(e.value_location, e.field,
                 fmt::format("a CPU index must be an integer >= 0, got {}",
                             e.value.IsScalar() ? quote(text) : kind_name(e.value)));
          }
        });
        return;
      case FieldType::strings:
        check_map(m, "data ids to strings", [&](const Member& e) {
          check_data_id_key(e);
          static_cast<void>(scalar(e.value, e.value_location, e.field, "the type"));
        });
        return;
      case FieldType::string_lists:
        check_map(m, "data ids to lists of strings", [&](const Member& e) {
          check_data_id_key(e);
          check_list(e, "strings", [&](const Member& item) {
            static_cast<void>(scalar(item.value, item.value_location, item.field, "an entry"));
          });
        });
        return;
      case FieldType::framings:
        check_map(m, "data ids to 'raw' or 'arrow-ipc'", [&](const Member& e) {
          check_data_id_key(e);
          check_choice(e, {"raw", "arrow-ipc"});
        });
        return;
      case FieldType::string_map:
        check_map(m, "strings to strings", [&](const Member& e) {
          static_cast<void>(scalar(e.value, e.value_location, e.field, "the value"));
        });
        return;
      case FieldType::deploy:
        check_map(m, "machine, working_dir, labels and distribute", [&](const Member& e) {
          if (e.name == "machine" || e.name == "working_dir") {
            static_cast<void>(scalar(e.value, e.value_location, e.field, e.name));
          } else if (e.name == "labels") {
            check_type(e, FieldType::string_map);
          } else if (e.name == "distribute") {
            check_choice(e, {"local", "scp", "http"});
          } else {
            fail(e.key_location, e.field,
                 fmt::format("unknown field {} in deploy (it has machine, working_dir, labels, "
                             "distribute)",
                             quote(e.name)));
          }
        });
        return;
      case FieldType::debug:
        check_map(m, "enable_debug_inspection", [&](const Member& e) {
          if (e.name != "enable_debug_inspection") {
            fail(e.key_location, e.field,
                 fmt::format("unknown field {} in debug (it has enable_debug_inspection)",
                             quote(e.name)));
          }
          check_type(e, FieldType::boolean);
        });
        return;
      case FieldType::type_rules:
        check_list(m, "{from, to} rules", [&](const Member& rule) {
          if (!rule.value.IsMap()) {
            fail(rule.value_location, rule.field,
                 fmt::format("a type rule must be a map with 'from' and 'to', got {}",
                             kind_name(rule.value)));
          }
          const auto seen = for_each_member(rule.value, rule.field, "field", [&](const Member& e) {
            if (e.name != "from" && e.name != "to") {
              fail(e.key_location, e.field,
                   fmt::format("unknown field {} in a type rule (it has 'from' and 'to')",
                               quote(e.name)));
            }
            static_cast<void>(scalar(e.value, e.value_location, e.field, e.name));
          });
          if (!seen.contains("from") || !seen.contains("to")) {
            fail(rule.value_location, rule.field, "a type rule needs 'from' and 'to'");
          }
        });
        return;
      case FieldType::number:
        static_cast<void>(number(m, m.name, "seconds"));
        return;
      case FieldType::count: {
        const std::string text =
            m.value.IsScalar() ? scalar(m.value, m.value_location, m.field, m.name) : "";
        if (!m.value.IsScalar() || !parse_decimal(text, std::numeric_limits<std::uint32_t>::max())) {
          fail(m.value_location, m.field,
               fmt::format("{} must be an integer from 0 to {}, got {}", m.name,
                           std::numeric_limits<std::uint32_t>::max(),
                           m.value.IsScalar() ? quote(text) : kind_name(m.value)));
        }
        return;
      }
      case FieldType::string:
        static_cast<void>(scalar(m.value, m.value_location, m.field, m.name));
        return;
      case FieldType::restart_policy:
        check_choice(m, {"never", "on-failure", "always"});
        return;
      case FieldType::log_level: {
        std::string text = scalar(m.value, m.value_location, m.field, m.name);
        std::transform(text.begin(), text.end(), text.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        constexpr std::array<std::string_view, 6> kLevels = {"stdout", "error", "warn",
                                                             "info",   "debug", "trace"};
        if (!contains(kLevels, text)) {
          fail(m.value_location, m.field,
               fmt::format("min_log_level must be one of stdout, error, warn, info, debug, "
                           "trace, got {}",
                           quote(m.value.Scalar())));
        }
        return;
      }
    }
  }

  // ----- top level --------------------------------------------------------------------------

  void parse_top_level(const YAML::Node& root, Dataflow& dataflow) {
    if (root.IsNull()) fail({}, "", "the file is empty: a dataflow is a map with a 'nodes' list");
    if (!root.IsMap()) {
      fail(location_of(root.Mark()), "",
           fmt::format("a dataflow is a map with a 'nodes' list, got {}", kind_name(root)));
    }
    std::optional<YAML::Node> nodes_key;
    std::optional<YAML::Node> nodes;
    const auto seen = for_each_member(root, "", "field", [&](const Member& m) {
      if (m.name == "nodes") {
        nodes_key = m.key;
        nodes = m.value;
      } else if (const RunLimitedField* limited = run_limited_field(kRunLimitedTopLevelFields,
                                                                      m.name)) {
        check_type(m, limited->type);
        limit(m.key_location, m.field, not_yet(quote(m.name)));
      } else if (m.name == "env") {
        parse_env(m.value, m.value_location, m.field, top_level_env_);
      } else if (m.name == "health_check_interval") {
        dataflow.health_check_interval = seconds(m, "health_check_interval", /*allow_zero=*/false);
      } else if (contains(kNotDoraTopLevelFields, m.name)) {
        fail(m.key_location, m.field, not_dora(m.name));
      } else {
        fail(m.key_location, m.field,
             fmt::format("unknown top-level field {} (a dataflow has: nodes, env, "
                         "health_check_interval, deploy, debug, strict_types, "
                         "exit_when_nodes_finish, type_rules)",
                         quote(m.name)));
      }
    });
    if (!nodes) {
      // A `nodes` key that is no string, or a second one, was reported already.
      if (seen.contains("nodes")) return;
      fail(location_of(root.Mark()), "", "missing 'nodes': a dataflow needs a list of nodes");
    }
    parse_nodes(*nodes_key, *nodes, dataflow);
  }

  void parse_nodes(const YAML::Node& key, const YAML::Node& nodes, Dataflow& dataflow) {
    const SourceLocation location = value_location(key, nodes);
    if (nodes.IsNull()) fail(location, "nodes", "the list of nodes is empty");
    if (!nodes.IsSequence()) {
      fail(location, "nodes", fmt::format("nodes must be a list, got {}", kind_name(nodes)));
    }
    if (nodes.size() == 0) fail(location, "nodes", "the list of nodes is empty");
    if (nodes.size() > kMaxNodes) {
      fail(location, "nodes",
           fmt::format("too many nodes: {} (the limit is {})", nodes.size(), kMaxNodes));
    }
    std::map<std::string, std::size_t> index_of_id;
    for (auto it = nodes.begin(); it != nodes.end(); ++it) {
      const std::size_t index = dataflow.nodes.size();
      const YAML::Node value = *it;
      charge(0, location_of(value.Mark()), element("nodes", index));
      Node& node = dataflow.nodes.emplace_back();
      NodeMarks& marks = marks_.emplace_back();
      marks.field = element("nodes", index);
      attempt([&] { parse_node(value, index, node, marks); });
      // The top-level env under the node's own (the node's wins, as in Dora).
      for (const auto& [name, text] : top_level_env_) node.env.emplace(name, text);
      if (is_python(node)) {
        limit(marks.path.known() ? marks.path : node.location,
              marks.path.known() ? member(marks.field, "path") : marks.field,
              fmt::format("node {}: python nodes need Dora's Python API (dcp run starts native "
                          "executables only): not supported by dcp run yet",
                          quote(node.id)));
      }
      if (node.id.empty()) continue;  // its problem is reported
      const auto [existing, inserted] = index_of_id.emplace(node.id, index);
      if (!inserted) {
        record(Diagnostic{
            marks.id, member(marks.field, "id"),
            fmt::format("duplicate node id {} (first defined at line {}, nodes[{}])",
                        quote(node.id), marks_[existing->second].id.line, existing->second)});
      }
    }
  }

  // ----- one node ---------------------------------------------------------------------------

  void parse_node(const YAML::Node& value, std::size_t index, Node& node, NodeMarks& marks) {
    const std::string& field = marks.field;
    node.location = location_of(value.Mark());
    if (!value.IsMap()) {
      fail(node.location, field,
           fmt::format("a node must be a map with 'id' and 'path', got {}", kind_name(value)));
    }
    std::optional<Diagnostic> git_field;  // the first of git/branch/tag/rev; reported below
    const auto seen = for_each_member(value, field, "field", [&](const Member& m) {
      if (m.name == "id") {
        marks.id = m.value_location;
        node.id = valid_id(m.value, m.value_location, m.field, "node id", IdKind::node);
        if (node.id == "dora") {
          fail(m.value_location, m.field,
               "node id 'dora' is reserved (inputs 'dora/...' name Dora's built-in timers)");
        }
      } else if (m.name == "name" || m.name == "description") {
        std::string text =
            m.value.IsNull() ? std::string() : scalar(m.value, m.value_location, m.field, m.name);
        (m.name == "name" ? node.name : node.description) = std::move(text);
      } else if (m.name == "path") {
        parse_path(m.value, m.value_location, m.field, node);
        marks.path = m.value_location;
      } else if (m.name == "args") {
        parse_args(m.value, m.value_location, m.field, node);
      } else if (m.name == "env") {
        parse_env(m.value, m.value_location, m.field, node.env);
      } else if (m.name == "build") {
        parse_build(m.value, m.value_location, m.field, node);
      } else if (contains(kGitFields, m.name)) {
        if (!git_field) git_field = Diagnostic{m.key_location, m.field, m.name};
      } else if (m.name == "inputs") {
        parse_inputs(m.value, m.value_location, m.field, index, node);
      } else if (m.name == "outputs") {
        marks.outputs_complete = false;
        marks.outputs_complete = parse_outputs(m.value, m.value_location, m.field, node);
      } else if (const RunLimitedField* limited =
                     run_limited_field(kRunLimitedNodeFields, m.name)) {
        check_type(m, limited->type);
        // `restart_policy: never` is Dora's default, which is what dcp run does.
        if (m.name != "restart_policy" || m.value.Scalar() != "never") {
          limit(m.key_location, m.field, not_yet(quote(m.name)));
        }
      } else if (contains(kUnsupportedNodeFields, m.name)) {
        fail(m.key_location, m.field, unsupported(quote(m.name)));
      } else if (contains(kNotDoraNodeFields, m.name)) {
        fail(m.key_location, m.field, not_dora(m.name));
      } else if (m.name == "params") {
        fail(m.key_location, m.field,
             "'params' is only for Dora's module nodes (Dora rejects it on a node with 'path')");
      } else {
        fail(m.key_location, m.field,
             fmt::format("unknown field {} (a node has: {})", quote(m.name), kNodeFields));
      }
    });
    if (!seen.contains("id")) record(Diagnostic{node.location, field, "the node has no 'id'"});
    if (git_field) {
      // After the walk of the node, so that the message can name it wherever `id` stands.
      git_field->reason = fmt::format(
          "{}: git sources are not supported by dcp (no network); build it and use `path`",
          node.id.empty() ? std::string("the node") : "node " + quote(node.id));
      record(std::move(*git_field));
    }
    // Dora's operator and custom nodes have no `path`; their unsupported field is reported.
    const bool other_kind = seen.contains("operators") || seen.contains("operator") ||
                            seen.contains("custom") || seen.contains("ros2") ||
                            seen.contains("module") || seen.contains("hub");
    if (!seen.contains("path") && !other_kind) {
      record(Diagnostic{node.location, field,
                        node.id.empty()
                            ? std::string("the node has no 'path' (the executable to run)")
                            : fmt::format("node {} has no 'path' (the executable to run)",
                                          quote(node.id))});
    }
  }

  // A Python node: a `.py` path (Dora runs it with `python -u`), or a build that pip-installs
  // the node.
  static bool is_python(const Node& node) {
    if (node.path.size() > 3 && node.path.ends_with(".py")) return true;
    std::istringstream lines(node.build);
    for (std::string line; std::getline(lines, line);) {
      const std::size_t first = line.find_first_not_of(" \t");
      if (first == std::string::npos) continue;
      const std::string_view command = std::string_view(line).substr(first);
      for (const std::string_view pip : {"pip ", "pip3 ", "uv pip ", "python -m pip ",
                                         "python3 -m pip "}) {
        if (command.starts_with(pip)) return true;
      }
    }
    return false;
  }

  // Dora expands only these variables in `path` (others stay as written).
  static std::optional<std::string> path_variable(std::string_view name) {
    constexpr std::array<std::string_view, 5> kAllowed = {"HOME", "USER", "PWD", "DORA_WORKSPACE",
                                                          "CARGO_MANIFEST_DIR"};
    if (!contains(kAllowed, name)) return std::nullopt;
    return process_variable(name);
  }

  void parse_path(const YAML::Node& item, SourceLocation location, const std::string& field,
                  Node& node) {
    if (item.IsNull()) fail(location, field, "path is empty");
    node.path = scalar(item, location, field, "path");
    if (node.path.empty()) fail(location, field, "path is empty");
    if (has_nul(node.path)) fail(location, field, "path contains a NUL character");
    if (node.path == "dynamic") {
      // Dora does not start it: it is a process the user starts, which then joins the dataflow.
      limit(location, field, not_yet("a dynamic node (path: dynamic)"));
      return;  // no executable to check
    }
    if (node.path == "shell") fail(location, field, unsupported("a shell node (path: shell)"));
    if (node.path.find("://") != std::string::npos) {
      fail(location, field, unsupported("a URL as path"));
    }
    const std::string expanded = expand_variables(node.path, path_variable, UnsetVariable::keep);
    charge(expanded.size(), location, field);
    node.executable = (base_dir_ / fs::path(expanded)).lexically_normal();
  }

  void parse_build(const YAML::Node& item, SourceLocation location, const std::string& field,
                   Node& node) {
    if (item.IsNull()) return;
    if (!item.IsScalar()) {
      fail(location, field,
           fmt::format("build must be a string (commands, one per line), got {}",
                       kind_name(item)));
    }
    node.build = scalar(item, location, field, "build");
    if (has_nul(node.build)) fail(location, field, "build contains a NUL character");
    node.build_location = location;
  }

  void parse_args(const YAML::Node& item, SourceLocation location, const std::string& field,
                  Node& node) {
    if (item.IsNull()) return;
    if (!item.IsScalar()) {
      fail(location, field,
           fmt::format("args must be a string (split into words like a shell does), got {}",
                       kind_name(item)));
    }
    node.args = scalar(item, location, field, "args");
    if (has_nul(node.args)) fail(location, field, "args contains a NUL character");
    try {
      node.argv = split_args(node.args);
    } catch (const std::invalid_argument& e) {
      fail(location, field, e.what());
    }
    for (const std::string& word : node.argv) charge(word.size(), location, field);
  }

  void parse_env(const YAML::Node& item, SourceLocation location, const std::string& field,
                 std::map<std::string, std::string>& env) {
    if (item.IsNull()) return;
    if (!item.IsMap()) {
      fail(location, field,
           fmt::format("env must be a map of variable names to values, got {}", kind_name(item)));
    }
    for_each_member(item, field, "environment variable", [&](const Member& m) {
      const YAML::Node& value = m.value;
      const std::string& name = m.name;
      const SourceLocation key_location = m.key_location;
      const std::string& entry_field = m.field;
      if (name.empty() || name.find('=') != std::string::npos || has_nul(name)) {
        fail(key_location, entry_field,
             fmt::format("invalid environment variable name {} (it must be non-empty, without '=')",
                         quote(name)));
      }
      const SourceLocation value_at = m.value_location;
      if (value.IsNull()) {
        fail(value_at, entry_field,
             fmt::format("environment variable {} has no value (write \"\" for an empty one)",
                         quote(name)));
      }
      if (!value.IsScalar()) {
        fail(value_at, entry_field,
             fmt::format("the value of environment variable {} must be a string, number or "
                         "boolean, got {}",
                         quote(name), kind_name(value)));
      }
      std::string text = scalar(value, value_at, entry_field, "env value");
      if (has_nul(text)) fail(value_at, entry_field, "the value contains a NUL character");
      try {
        // As Dora: variables are expanded (an unset one is an error), then the value is read as
        // a bool, integer, float or string and passed in its text form.
        text = expand_variables(text, process_variable, UnsetVariable::fail);
      } catch (const std::invalid_argument& e) {
        fail(value_at, entry_field, fmt::format("{} (in the value of {})", e.what(), quote(name)));
      }
      charge(text.size(), value_at, entry_field);
      env.emplace(name, env_value_text(text, value.Tag() == "?"));
    });
  }

  // True if every output id is valid, so that pass 2 may call an output missing (each problem is
  // reported).
  bool parse_outputs(const YAML::Node& item, SourceLocation location, const std::string& field,
                     Node& node) {
    if (item.IsNull()) return true;
    if (!item.IsSequence()) {
      fail(location, field, fmt::format("outputs must be a list of ids, got {}", kind_name(item)));
    }
    if (item.size() > kMaxOutputsPerNode) {
      fail(location, field,
           fmt::format("too many outputs: {} (the limit is {} per node)", item.size(),
                       kMaxOutputsPerNode));
    }
    std::map<std::string, SourceLocation> seen;
    bool all_valid = true;
    std::size_t index = 0;
    for (auto it = item.begin(); it != item.end(); ++it, ++index) {
      all_valid &= attempt([&] {
        const YAML::Node output = *it;
        const std::string output_field = element(field, index);
        const SourceLocation output_location = location_of(output.Mark());
        std::string id =
            valid_id(output, output_location, output_field, "output id", IdKind::data);
        const auto [previous, inserted] = seen.emplace(id, output_location);
        if (!inserted) {
          // Reported, but every output of the node is still known: references stay checked.
          record(Diagnostic{output_location, output_field,
                            fmt::format("duplicate output {} (first declared at line {})",
                                        quote(id), previous->second.line)});
          return;
        }
        node.outputs.push_back(Output{std::move(id), output_location});
      });
    }
    return all_valid;
  }

  // ----- inputs -----------------------------------------------------------------------------

  void parse_inputs(const YAML::Node& item, SourceLocation location, const std::string& field,
                    std::size_t node_index, Node& node) {
    if (item.IsNull()) return;
    if (!item.IsMap()) {
      fail(location, field,
           fmt::format("inputs must be a map of input ids to sources, got {}", kind_name(item)));
    }
    if (item.size() > kMaxInputsPerNode) {
      fail(location, field,
           fmt::format("too many inputs: {} (the limit is {} per node)", item.size(),
                       kMaxInputsPerNode));
    }
    for_each_member(item, field, "input", [&](const Member& m) {
      if (auto problem = id_problem(m.name, IdKind::data)) {
        fail(m.key_location, m.field,
             fmt::format("invalid input id {}: {}", quote(m.name), *problem));
      }
      Input input;
      input.id = m.name;
      input.location = m.key_location;
      std::optional<PendingReference> reference = parse_input_value(m, input);
      if (reference && input.upstream() != nullptr) {
        reference->node_index = node_index;
        reference->input_index = node.inputs.size();
        pending_.push_back(std::move(*reference));
      }
      node.inputs.push_back(std::move(input));
    });
  }

  // Fills input.source and queue size; returns where the source was written (for pass 2), or
  // nullopt if the source had a problem (reported).
  std::optional<PendingReference> parse_input_value(const Member& m, Input& input) {
    const YAML::Node& value = m.value;
    const std::string& field = m.field;
    const SourceLocation location = m.value_location;
    if (value.IsScalar()) {
      parse_source(scalar(value, location, field, "input source"), location, field, input);
      return PendingReference{0, 0, location, field};
    }
    if (!value.IsMap()) {
      fail(location, field,
           fmt::format("input {} must be '<node>/<output>', a timer, or a map with 'source' (and "
                       "'queue_size', 'input_timeout', 'queue_policy'), got {}",
                       quote(input.id), kind_name(value)));
    }
    std::optional<PendingReference> source;
    const auto seen = for_each_member(value, field, "field", [&](const Member& entry) {
      if (entry.name == "source") {
        if (entry.value.IsNull()) fail(entry.value_location, entry.field, "source is empty");
        parse_source(scalar(entry.value, entry.value_location, entry.field, "source"),
                     entry.value_location, entry.field, input);
        source = PendingReference{0, 0, entry.value_location, entry.field};
      } else if (entry.name == "queue_size") {
        parse_queue_size(entry.value, entry.value_location, entry.field, input);
      } else if (entry.name == "input_timeout") {
        input.input_timeout = seconds(entry, "input_timeout", /*allow_zero=*/true);
      } else if (entry.name == "queue_policy") {
        const std::string policy = scalar(entry.value, entry.value_location, entry.field,
                                          "queue_policy");
        if (policy == "drop_oldest") {
          input.queue_policy = QueuePolicy::drop_oldest;
        } else if (policy == "backpressure") {
          input.queue_policy = QueuePolicy::backpressure;
        } else {
          fail(entry.value_location, entry.field,
               fmt::format("queue_policy must be 'drop_oldest' or 'backpressure', got {}",
                           quote(policy)));
        }
      } else {
        fail(entry.key_location, entry.field,
             fmt::format("unknown field {} in an input (it has 'source', 'queue_size', "
                         "'input_timeout' and 'queue_policy')",
                         quote(entry.name)));
      }
    });
    if (!seen.contains("source")) {
      fail(location, field, fmt::format("input {} has no 'source'", quote(input.id)));
    }
    return source;
  }

  void parse_queue_size(const YAML::Node& value, SourceLocation location, const std::string& field,
                        Input& input) {
    const std::string text =
        value.IsScalar() ? scalar(value, location, field, "queue_size") : std::string();
    // Like Dora (Rust's usize parsing): digits, optionally after one '+'.
    const std::string_view digits =
        text.size() > 1 && text.front() == '+' ? std::string_view(text).substr(1) : text;
    const auto size = value.IsScalar() ? parse_decimal(digits, kMaxQueueSize) : std::nullopt;
    if (!size) {
      fail(location, field,
           fmt::format("queue_size must be an integer from 0 to {} (0 means 1, as in Dora), got {}",
                       kMaxQueueSize, value.IsScalar() ? quote(text) : kind_name(value)));
    }
    input.queue_size = std::max<std::size_t>(1, static_cast<std::size_t>(*size));
    input.queue_size_is_default = false;
  }

  // `node/output`, `dora/timer/millis/N` or `dora/timer/secs/N`.
  void parse_source(const std::string& text, SourceLocation location, const std::string& field,
                    Input& input) {
    const std::size_t slash = text.find('/');
    if (slash == std::string::npos) {
      fail(location, field,
           fmt::format("malformed input source {}: expected '<node>/<output>' or a timer "
                       "'dora/timer/millis/<N>'",
                       quote(text)));
    }
    const std::string_view node_id = std::string_view(text).substr(0, slash);
    const std::string_view rest = std::string_view(text).substr(slash + 1);
    if (node_id == "dora") {
      input.source = parse_dora_input(text, rest, location, field);
      return;
    }
    if (node_id.empty() || rest.empty()) {
      fail(location, field,
           fmt::format(
               "malformed input source {}: the {} part is empty (expected '<node>/<output>')",
               quote(text), node_id.empty() ? "node" : "output"));
    }
    // Split at the first '/', as Dora does: "a/op/out" is output "op/out" of node "a".
    if (auto problem = id_problem(node_id, IdKind::node)) {
      fail(location, field,
           fmt::format("malformed input source {}: invalid node id {}: {}", quote(text),
                       quote(node_id), *problem));
    }
    if (auto problem = id_problem(rest, IdKind::data)) {
      fail(location, field,
           fmt::format("malformed input source {}: invalid output id {}: {}", quote(text),
                       quote(rest), *problem));
    }
    input.source = NodeOutput{std::string(node_id), std::string(rest)};
  }

  // `dora/...`: Dora's built-in inputs; `rest` is what follows "dora/".
  std::variant<NodeOutput, Timer, DoraLogs> parse_dora_input(const std::string& text, std::string_view rest,
                                                   SourceLocation location,
                                                   const std::string& field) {
    const std::string_view kTimer = "timer/";
    if (rest.substr(0, kTimer.size()) == kTimer) {
      return parse_timer(text, rest.substr(kTimer.size()), location, field);
    }
    if (rest == "logs" || rest.substr(0, 5) == "logs/") {
      return parse_logs(text, rest.size() > 5 ? rest.substr(5) : std::string_view(), location, field);
    }
    const std::string_view kind = rest.substr(0, rest.find('/'));
    fail(location, field,
         fmt::format("unknown Dora input {}: Dora provides dora/timer/... and dora/logs[/<level>"
                     "[/<node>]] (dora/{} is not one of them)",
                     quote(text), detail::escape(kind.substr(0, detail::kMaxQuoted))));
  }

  // `dora/logs/<level>[/<node>]`; `rest` is what follows "dora/logs/" ("" for plain dora/logs).
  DoraLogs parse_logs(const std::string& text, std::string_view rest, SourceLocation location,
                      const std::string& field) {
    DoraLogs logs;
    if (rest.empty()) return logs;
    const std::size_t slash = rest.find('/');
    std::string level(rest.substr(0, slash));
    std::transform(level.begin(), level.end(), level.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    constexpr std::array<std::string_view, 6> kLevels = {"stdout", "error", "warn",
                                                         "info",   "debug", "trace"};
    if (!contains(kLevels, level)) {
      fail(location, field,
           fmt::format("Dora input {}: unknown log level {} (Dora's levels: stdout, error, warn, "
                       "info, debug, trace)",
                       quote(text), quote(rest.substr(0, slash))));
    }
    logs.level = level;
    if (slash != std::string_view::npos) {
      const std::string_view node = rest.substr(slash + 1);
      if (auto problem = id_problem(node, IdKind::node)) {
        fail(location, field,
             fmt::format("Dora input {}: invalid node id {}: {}", quote(text), quote(node),
                         *problem));
      }
      logs.node = std::string(node);
    }
    return logs;
  }

  // `dora/timer/<unit>/<value>`; `rest` is what follows "dora/timer/".
  Timer parse_timer(const std::string& text, std::string_view rest, SourceLocation location,
                    const std::string& field) {
    constexpr std::string_view kUnits =
        "dora/timer/secs/<N>, millis/<N>, micros/<N> or nanos/<N> with <N> an integer > 0, or "
        "dora/timer/hz/<F> with <F> a number > 0";
    const std::size_t slash = rest.find('/');
    const std::string_view unit = rest.substr(0, slash);
    const std::string_view value =
        slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    const auto malformed = [&](std::string_view why) {
      fail(location, field, fmt::format("malformed timer {}: {} (expected {})", quote(text), why,
                                        kUnits));
    };
    if (slash == std::string_view::npos) malformed("the unit and value are missing");
    Timer timer;
    if (unit == "hz") {
      timer.unit = Timer::Unit::hz;
      timer.value = std::string(value);
      timer.period = hz_period(value, malformed);
    } else {
      std::uint64_t per_unit = 1;  // nanoseconds
      if (unit == "secs") {
        timer.unit = Timer::Unit::secs;
        per_unit = 1'000'000'000;
      } else if (unit == "millis") {
        timer.unit = Timer::Unit::millis;
        per_unit = 1'000'000;
      } else if (unit == "micros") {
        timer.unit = Timer::Unit::micros;
        per_unit = 1'000;
      } else if (unit == "nanos") {
        timer.unit = Timer::Unit::nanos;
      } else {
        malformed(fmt::format("unknown unit {}", quote(unit)));
      }
      // Like Dora (Rust's u64 parsing): digits, optionally after one '+'.
      const std::string_view digits = value.substr(0, 1) == "+" ? value.substr(1) : value;
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string_view::npos) {
        malformed(fmt::format("{} is not an integer", quote(value)));
      }
      constexpr auto kMaxNanos =
          static_cast<std::uint64_t>(std::numeric_limits<std::chrono::nanoseconds::rep>::max());
      const auto count = parse_decimal(digits, kMaxNanos / per_unit);
      if (!count) {
        fail(location, field,
             fmt::format("timer {}: the period is too long (dcp's limit is 292 years)",
                         quote(text)));
      }
      if (*count == 0) malformed("the period is zero");
      timer.value = std::to_string(*count);
      timer.period = std::chrono::nanoseconds(static_cast<std::int64_t>(*count * per_unit));
    }
    if (timer.period < kMinRunnableTimerPeriod) {
      limit(location, field,
            fmt::format("timer {} ticks every {} ns; dcp run honours periods of at least {} us "
                        "({} Hz): not supported by dcp run yet",
                        quote(text), timer.period.count(), kMinRunnableTimerPeriod.count() / 1000,
                        1'000'000'000 / kMinRunnableTimerPeriod.count()));
    }
    return timer;
  }

  // The period of `dora/timer/hz/<value>`: 1 / value seconds, to the nearest nanosecond.
  template <typename Malformed>
  static std::chrono::nanoseconds hz_period(std::string_view value, const Malformed& malformed) {
    // Like Dora (Rust's f64 parsing): an optional sign, decimal digits with '.' or an exponent,
    // "inf" or "nan"; then it must be finite and > 0.
    const std::string_view number = value.substr(0, 1) == "+" ? value.substr(1) : value;
    double hz = 0;
    const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), hz);
    if (number.empty() || error != std::errc() || end != number.data() + number.size()) {
      malformed(fmt::format("{} is not a number", quote(value)));
    }
    if (!std::isfinite(hz) || hz <= 0) malformed("the rate must be a finite number > 0");
    const double nanos = std::round(1e9 / hz);
    if (nanos < 1) malformed("the rate is above 1 GHz, a period under 1 ns");
    if (nanos >= static_cast<double>(std::numeric_limits<std::chrono::nanoseconds::rep>::max())) {
      malformed("the period is too long (dcp's limit is 292 years)");
    }
    return std::chrono::nanoseconds(static_cast<std::int64_t>(nanos));
  }

  // ----- pass 2: references -----------------------------------------------------------------

  void resolve_references(const Dataflow& dataflow) {
    std::map<std::string_view, const Node*> by_id;
    std::vector<std::string> all_ids;
    for (const Node& node : dataflow.nodes) {
      // Nodes whose id has a problem, and second nodes of a duplicate id, are not listed.
      if (!node.id.empty() && by_id.emplace(node.id, &node).second) all_ids.push_back(node.id);
    }
    for (const PendingReference& pending : pending_) {
      attempt([&] { resolve_reference(pending, dataflow, by_id, all_ids); });
    }
  }

  void resolve_reference(const PendingReference& pending, const Dataflow& dataflow,
                         const std::map<std::string_view, const Node*>& by_id,
                         const std::vector<std::string>& all_ids) const {
    {
      const Input& input = dataflow.nodes[pending.node_index].inputs[pending.input_index];
      const NodeOutput& upstream = *input.upstream();
      const auto found = by_id.find(upstream.node);
      if (found == by_id.end()) {
        fail(pending.location, pending.field,
             fmt::format("unknown node {} (known nodes: {})", quote(upstream.node),
                         list_names(all_ids)));
      }
      const Node& source = *found->second;
      const auto source_index = static_cast<std::size_t>(&source - dataflow.nodes.data());
      if (!marks_[source_index].outputs_complete) return;  // its `outputs` problem is reported
      if (source.find_output(upstream.output) == nullptr) {
        std::vector<std::string> outputs;
        for (const Output& output : source.outputs) outputs.push_back(output.id);
        fail(pending.location, pending.field,
             outputs.empty()
                 ? fmt::format("node {} has no output {} (it declares no outputs)",
                               quote(source.id), quote(upstream.output))
                 : fmt::format("node {} has no output {} (its outputs: {})", quote(source.id),
                               quote(upstream.output), list_names(outputs)));
      }
    }
  }

  // ----- pass 3: executables ----------------------------------------------------------------

  void check_executables(Dataflow& dataflow) {
    for (std::size_t i = 0; i < dataflow.nodes.size(); ++i) {
      if (dataflow.nodes[i].executable.empty()) continue;  // its `path` problem is reported
      attempt([&] { check_executable(dataflow.nodes[i], marks_[i]); });
    }
  }

  // Updates node.executable when it is found through $PATH.
  static void check_executable(Node& node, const NodeMarks& marks) {
    {
      const SourceLocation location = marks.path;
      const std::string field = member(marks.field, "path");
      std::error_code error;
      fs::file_status status = fs::status(node.executable, error);
      if (status.type() == fs::file_type::not_found) {
        if (auto found = find_in_search_path(node.path, process_variable("PATH").value_or(""))) {
          node.executable = std::move(*found);
          return;
        }
        fail(location, field,
             fmt::format("executable {} not found (looked for {}{}; relative paths start at the "
                         "dataflow file's folder)",
                         quote(node.path), quote(node.executable.string()),
                         node.path.find('/') == std::string::npos ? " and in $PATH" : ""));
      }
      const std::string shown = quote(node.executable.string());
      if (error) {
        fail(location, field, fmt::format("cannot access {}: {}", shown, error.message()));
      }
      if (status.type() == fs::file_type::directory) {
        fail(location, field, fmt::format("{} is a directory, not an executable", shown));
      }
      if (status.type() != fs::file_type::regular) {
        fail(location, field, fmt::format("{} is not a regular file", shown));
      }
      // A Python script is run by python (`dcp run` refuses it anyway): it needs no execute bit.
      if (node.executable.extension() == ".py") return;
      if (::access(node.executable.c_str(), X_OK) != 0) {
        const int code = errno;
        fail(location, field,
             code == EACCES
                 ? fmt::format("{} is not executable (no execute permission: chmod +x it)", shown)
                 : fmt::format("{} is not executable: {}", shown, std::strerror(code)));
      }
    }
  }

  std::string name_;
  fs::path base_dir_;
  LoadOptions options_;
  std::size_t expanded_ = 0;
  std::vector<NodeMarks> marks_;
  std::vector<PendingReference> pending_;
  std::vector<Diagnostic> limitations_;  // see limit()
  std::map<std::string, std::string> top_level_env_;
  std::vector<Diagnostic> diagnostics_;  // at most 2 * kMaxReportedDiagnostics (see record)
  std::size_t found_ = 0;                // every problem found, kept or not
};

}  // namespace

Dataflow parse_dataflow(std::string_view text, std::string_view display_name,
                        const std::filesystem::path& base_dir, const LoadOptions& options) {
  std::error_code error;
  fs::path base = fs::absolute(base_dir.empty() ? fs::path(".") : base_dir, error);
  if (error) base = base_dir;
  return Parser(std::string(display_name), base.lexically_normal(), options).parse(text);
}

Dataflow load_dataflow(const std::filesystem::path& file, const LoadOptions& options) {
  const std::string name = file.string();
  const auto fail = [&](const std::string& reason) { throw DataflowError(name, {}, "", reason); };
  std::error_code error;
  if (fs::is_directory(file, error)) fail("cannot read the file: it is a directory");

  // Opened without blocking (a FIFO with no writer would block a plain open forever), then only a
  // regular file is read.
  const int fd = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) fail(fmt::format("cannot read the file: {}", std::strerror(errno)));
  struct stat status{};
  if (::fstat(fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    const char* kind = S_ISFIFO(status.st_mode)  ? "a FIFO"
                       : S_ISCHR(status.st_mode) ? "a character device"
                       : S_ISSOCK(status.st_mode) ? "a socket"
                       : S_ISBLK(status.st_mode) ? "a block device"
                                                 : "not a regular file";
    ::close(fd);
    fail(fmt::format("cannot read the file: it is {}, not a regular file", kind));
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> stream(::fdopen(fd, "rb"), &std::fclose);
  if (!stream) {
    ::close(fd);
    fail(fmt::format("cannot read the file: {}", std::strerror(errno)));
  }
  std::string text;
  std::array<char, 64 * 1024> buffer{};
  while (text.size() <= kMaxFileSize) {
    const std::size_t got = std::fread(buffer.data(), 1, buffer.size(), stream.get());
    text.append(buffer.data(), got);
    if (got < buffer.size()) break;
  }
  if (std::ferror(stream.get()) != 0) fail("cannot read the file: read error");
  if (text.size() > kMaxFileSize) {
    const auto size = fs::file_size(file, error);
    fail(error ? fmt::format("the file is too large: more than {} bytes (the limit is 4 MiB)",
                             kMaxFileSize)
               : fmt::format("the file is too large: {} bytes (the limit is {} bytes, 4 MiB)", size,
                             kMaxFileSize));
  }
  fs::path base_dir = file.parent_path();
  if (base_dir.empty()) base_dir = ".";
  return parse_dataflow(text, name, base_dir, options);
}

}  // namespace dcp::dataflow
