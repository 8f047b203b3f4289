// dcp/core/detail/unique_task.hpp — a move-only, type-erased callable (a small std::move_only_function).
//
// What it is for: the WorkerPool queues its tasks in a dcp channel, and a channel needs one concrete,
// nothrow-movable value type. UniqueTask<R(Args...)> holds any callable invocable as R(Args...) —
// including move-only ones (a lambda that captures a std::unique_ptr) — which std::function (copyable
// only) cannot. C++23's std::move_only_function does the same; C++20 has none.
//
// Storage: a callable of at most kInlineSize bytes whose move constructor is noexcept lives inside the
// UniqueTask (no allocation); anything else is allocated on the heap and the UniqueTask holds a
// pointer. Either way moving a UniqueTask never throws, which is what the channel requires.
//
// Destruction: destroying a UniqueTask destroys the callable, whether or not it was invoked. The
// WorkerPool relies on that: a queued task's callable marks its handle cancelled in its destructor
// when it never ran (evicted by Overflow::drop_oldest, dropped on shutdown, queue destroyed).
//
// Thread safety: none; a UniqueTask is a value owned by one thread at a time.
// Errors: invoking an empty UniqueTask is a precondition violation (checked by assert only).
#pragma once

#include <cassert>
#include <cstddef>
#include <functional>
#include <new>
#include <type_traits>
#include <utility>

namespace dcp::detail {

template <class Signature>
class UniqueTask;

template <class R, class... Args>
class UniqueTask<R(Args...)> {
 public:
  /// Callables up to this size (and nothrow-movable) are stored without an allocation.
  static constexpr std::size_t kInlineSize = 3 * sizeof(void*);

  UniqueTask() noexcept = default;

  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, UniqueTask> &&
             std::is_constructible_v<std::decay_t<F>, F> && std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
  explicit UniqueTask(F&& f) {
    using Fn = std::decay_t<F>;
    if constexpr (stored_inline<Fn>) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
      ops_ = &inline_ops<Fn>;
    } else {
      Fn* heap = new Fn(std::forward<F>(f));
      ::new (static_cast<void*>(storage_)) Fn*(heap);
      ops_ = &heap_ops<Fn>;
    }
  }

  UniqueTask(UniqueTask&& other) noexcept : ops_(other.ops_) {
    if (ops_ != nullptr) {
      ops_->move(storage_, other.storage_);
      other.ops_ = nullptr;
    }
  }

  UniqueTask& operator=(UniqueTask&& other) noexcept {
    if (this != &other) {
      reset();
      if (other.ops_ != nullptr) {
        other.ops_->move(storage_, other.storage_);
        ops_ = std::exchange(other.ops_, nullptr);
      }
    }
    return *this;
  }

  UniqueTask(const UniqueTask&) = delete;
  UniqueTask& operator=(const UniqueTask&) = delete;

  ~UniqueTask() { reset(); }

  /// Invokes the callable (as an lvalue). Precondition: not empty.
  R operator()(Args... args) {
    assert(ops_ != nullptr && "dcp::detail::UniqueTask: invoking an empty task");
    return ops_->invoke(storage_, std::forward<Args>(args)...);
  }

  /// True when a callable is held.
  explicit operator bool() const noexcept { return ops_ != nullptr; }

  /// Destroys the held callable now (no-op when empty).
  void reset() noexcept {
    if (ops_ != nullptr) {
      ops_->destroy(storage_);
      ops_ = nullptr;
    }
  }

 private:
  struct Ops {
    R (*invoke)(void* storage, Args&&... args);
    void (*move)(void* to, void* from) noexcept;  // move-constructs into `to`, destroys `from`
    void (*destroy)(void* storage) noexcept;
  };

  template <class Fn>
  static constexpr bool stored_inline = sizeof(Fn) <= kInlineSize && alignof(Fn) <= alignof(std::max_align_t) &&
                                        std::is_nothrow_move_constructible_v<Fn>;

  // std::invoke_r is C++23: a void R discards the result.
  template <class Fn>
  static R invoke_as_r(Fn& fn, Args&&... args) {
    if constexpr (std::is_void_v<R>) {
      std::invoke(fn, std::forward<Args>(args)...);
    } else {
      return std::invoke(fn, std::forward<Args>(args)...);
    }
  }

  template <class Fn>
  static Fn& inline_target(void* storage) noexcept {
    return *std::launder(static_cast<Fn*>(storage));
  }
  template <class Fn>
  static Fn*& heap_target(void* storage) noexcept {
    return *std::launder(static_cast<Fn**>(storage));
  }

  template <class Fn>
  static constexpr Ops inline_ops{
      [](void* storage, Args&&... args) -> R {
        return invoke_as_r(inline_target<Fn>(storage), std::forward<Args>(args)...);
      },
      [](void* to, void* from) noexcept {
        Fn& source = inline_target<Fn>(from);
        ::new (to) Fn(std::move(source));
        source.~Fn();
      },
      [](void* storage) noexcept { inline_target<Fn>(storage).~Fn(); },
  };

  template <class Fn>
  static constexpr Ops heap_ops{
      [](void* storage, Args&&... args) -> R {
        return invoke_as_r(*heap_target<Fn>(storage), std::forward<Args>(args)...);
      },
      [](void* to, void* from) noexcept { ::new (to) Fn*(heap_target<Fn>(from)); },
      [](void* storage) noexcept { delete heap_target<Fn>(storage); },
  };

  alignas(std::max_align_t) unsigned char storage_[kInlineSize];
  const Ops* ops_ = nullptr;
};

}  // namespace dcp::detail
