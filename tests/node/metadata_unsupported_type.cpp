// Must NOT compile: dcp::Metadata::set with a type that is no parameter type. Compiled by the ctest
// MetadataSet.UnsupportedTypes_FailToCompileWithOneClearStaticAssert (check_compile_error.cmake), once
// per DCP_CASE; the test passes when the compiler refuses it with exactly one error, the static_assert.
#include <string>
#include <vector>

#include "dcp/node/metadata.hpp"

void set_unsupported(dcp::Metadata& metadata) {
#if DCP_CASE == 1
  metadata.set("k", std::vector<int>{1, 2});  // only vector<int64_t|double|string> are parameters
#elif DCP_CASE == 2
  metadata.set("k", 'x');  // a char: number or text? refused
#elif DCP_CASE == 3
  metadata.set("k", 1.0L);  // long double would lose precision as double
#else
#error "DCP_CASE must be 1, 2 or 3"
#endif
}
