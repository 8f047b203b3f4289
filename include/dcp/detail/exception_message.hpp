// dcp/detail/exception_message.hpp — a printable description of a std::exception_ptr.
//
// Used where an exception cannot be rethrown to anybody (a destructor reporting a thread's failure on
// stderr) and by TaskError::message(). Never throws.
#pragma once

#include <exception>
#include <string>

namespace dcp::detail {

/// what() of the exception (std::exception or derived), "unknown exception" for anything else,
/// "no exception" for a null pointer.
inline std::string exception_message(const std::exception_ptr& error) noexcept {
  if (!error) return "no exception";
  try {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      return e.what();
    } catch (...) {
      return "unknown exception (not derived from std::exception)";
    }
  } catch (...) {  // std::string could not allocate
    return {};
  }
}

}  // namespace dcp::detail
