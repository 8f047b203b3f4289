// tests/support/failing_allocation.hpp — allocation-failure injection for one test binary: when armed
// on a thread, the n-th allocation (0-based) by global operator new on that thread throws
// std::bad_alloc, so tests can check that an operation left its object consistent whichever of its
// allocations failed.
//
//   for (long failing = 0;; ++failing) {
//     const dcp::test::InjectedFailure result =
//         dcp::test::with_failing_allocation(failing, [&] { (void)router.dispatch(std::move(event)); });
//     ...check the invariants (result.threw: the call threw std::bad_alloc)...
//     if (!result.injected) break;  // the call made fewer than failing + 1 allocations: all tried
//   }
//
// This header DEFINES the replacement global operator new/delete (malloc/free): include it in exactly
// one .cpp of a test binary (each tests/patterns/*_test.cpp is its own binary).
// Thread safety: the counter is thread_local — arming it on one thread never affects another; a
// handler may arm or disarm it on its own (worker) thread. Blocking: none.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <new>

namespace dcp::test {

/// Allocations left on this thread before one fails; -1: disarmed.
inline thread_local long allocations_until_failure = -1;

/// What with_failing_allocation() saw.
struct InjectedFailure {
  bool threw = false;     ///< the call threw std::bad_alloc
  bool injected = false;  ///< the armed failure happened (the call made at least failing + 1 allocations)
};

/// Runs call() with the `failing`-th allocation on this thread armed to fail, then disarms. A
/// std::bad_alloc escaping call() is caught and reported; other exceptions propagate (disarmed).
template <class Call>
InjectedFailure with_failing_allocation(long failing, Call&& call) {
  InjectedFailure result;
  allocations_until_failure = failing;
  try {
    call();
  } catch (const std::bad_alloc&) {
    result.threw = true;
  } catch (...) {
    allocations_until_failure = -1;
    throw;
  }
  result.injected = allocations_until_failure < 0;
  allocations_until_failure = -1;
  return result;
}

}  // namespace dcp::test

void* operator new(std::size_t size) {
  long& until_failure = dcp::test::allocations_until_failure;
  if (until_failure >= 0 && until_failure-- == 0) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// Not inlined: g++ -O2 would otherwise flag free() of an operator-new pointer (it is ours: malloc).
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }
