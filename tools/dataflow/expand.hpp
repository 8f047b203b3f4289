// dataflow/expand.hpp — Dora's rewriting of `env` values and `path`: `$VAR`/`${VAR}` expansion and
// the text an `env` value becomes.
//
// What it is for: the loader hands a node's process exactly what Dora's daemon would.
//   - expand_variables("${HOME}/bin/$NODE", lookup) -> "/home/me/bin/cam". A name is
//     [A-Za-z0-9_]+; `${NAME:-default}` gives `default` when NAME is unset; a '$' not followed by
//     a name or '{' stays as it is. What happens to an unset variable is the caller's choice
//     (`lookup` returns nullopt): env values fail (Dora refuses the dataflow), `path` keeps the
//     text unexpanded (Dora only expands HOME, USER, PWD, DORA_WORKSPACE, CARGO_MANIFEST_DIR
//     there and leaves the rest).
//   - env_value_text("007") -> "7": Dora reads an env value as a bool, else a 64-bit integer,
//     else a float, else a string, and passes its Rust text form: "true", "7", "1.5", "1"
//     for 1.0, "100000000000000000000" for 1e20, "inf", "NaN".
//
// Thread safety: pure functions (expand_variables calls `lookup` from the calling thread).
// Blocking: none.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace dcp::dataflow {

/// Returns the value of a variable, or nullopt if it is unset.
using VariableLookup = std::function<std::optional<std::string>(std::string_view name)>;

/// What to do with a variable `lookup` does not know.
enum class UnsetVariable {
  fail,  ///< throw std::invalid_argument "environment variable 'X' is not set"
  keep,  ///< leave `$X` / `${X}` in the text
};

/// `text` with `$NAME`, `${NAME}` and `${NAME:-default}` replaced (see the header comment).
/// Throws std::invalid_argument for an unset variable when `unset` is UnsetVariable::fail.
[[nodiscard]] std::string expand_variables(std::string_view text, const VariableLookup& lookup,
                                           UnsetVariable unset);

/// The process environment as a VariableLookup (getenv).
[[nodiscard]] std::optional<std::string> process_variable(std::string_view name);

/// The text Dora passes for env value `text` (see the header comment). `plain` is true for an
/// unquoted YAML scalar, which YAML 1.2 also reads as a bool in the forms True/TRUE/False/FALSE,
/// as an integer in the forms 0x1F and 0o17, and as a float in the forms .inf, -.inf and .nan.
[[nodiscard]] std::string env_value_text(std::string_view text, bool plain);

}  // namespace dcp::dataflow
