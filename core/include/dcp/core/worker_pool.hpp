// dcp/core/worker_pool.hpp — a fixed pool of worker threads fed by a dcp channel.
//
// What it is for: a Dora node offloads work (decoding, planning, inference) from the thread that owns
// its inputs and outputs, and gets each result — or the exception it threw — back through a handle:
//
//   dcp::WorkerPool pool({.threads = 4, .queue_capacity = 64, .name = "planner"});
//   dcp::TaskHandle<Path> path = pool.submit([goal] { return plan(goal); });
//   auto slow = pool.submit([](std::stop_token stop) { return refine(stop); });  // cancellable
//   slow.cancel();                        // its std::stop_token now reports stop_requested()
//   Path p = path.get();                  // the result, or the task's exception rethrown
//   pool.post([] { log_stats(); });       // fire-and-forget; an exception is reported (error_report.hpp)
//
// Tasks. A task is any move-constructible callable invocable as f() or f(std::stop_token) (when both
// work, it gets the token, as with std::jthread). It runs exactly once on one worker, or never.
// Its result type R may be void or move-only; it may not be a reference (return a pointer or a
// std::reference_wrapper instead).
//
// Handles. submit() returns a move-only TaskHandle<R>: get() blocks and returns the result, rethrows
// the task's exception, or throws TaskCancelled when the task never ran. Destroying a handle detaches
// the task: it still runs; if it then throws, the exception is reported (nobody else can see it).
// A handle destroyed after its task already finished drops the result or exception unreported:
// its owner had it in hand (ready() / state() say so) and chose not to get() it.
// The handle's state is queued -> running -> done | failed, or queued -> cancelled (never ran).
//
// Cancellation. Each task that takes a std::stop_token gets its own token, which reports
// stop_requested() after handle.cancel() or after shutdown(ShutdownMode::cancel). Cancelling a task
// that has not started yet also guarantees it never runs (state cancelled). A running task is never
// interrupted: it must look at its token and return (or throw) by itself.
//
// Exceptions. A throwing task never terminates the process and never kills its worker: the exception
// is caught on the worker and stored in the handle. An exception nobody can receive — from a post()ed
// task, or from a task whose handle was destroyed — is never dropped: the worker calls
// deliver_error(Options::on_error, "worker pool '<name>'", "a posted task threw: <what()>") (or "a
// detached task threw: ..."), so by default it goes to report_error() (counted; one line on stderr,
// or the node's log under the node library); set Options::on_error to handle such errors yourself.
// on_error runs on the worker thread that ran the task; it must be thread-safe when threads > 1.
//
// Queue. Tasks wait in a dcp channel: unbounded by default, or bounded (Options::queue_capacity) with
// the channel overflow policies:
//   - Overflow::block: submit()/post() block until a worker frees room; try_submit() returns nullopt.
//   - Overflow::drop_newest: the task being submitted is dropped; its handle is already cancelled.
//   - Overflow::drop_oldest: the oldest queued task is dropped (its handle becomes cancelled) to make
//     room for the new one. Drops are counted in dropped().
// Calling a blocking submit() from one of the pool's own tasks can deadlock when every worker does it
// on a full queue: use try_submit() or post() there.
//
// Shutdown. shutdown(ShutdownMode::drain) closes the queue, lets the workers finish every task already
// queued, and joins them. shutdown(ShutdownMode::cancel) requests stop on the pool's stop_source
// (every running task's token reports stop_requested()), drops every queued task (handles become
// cancelled, get() throws TaskCancelled), joins, and reports how many were dropped. Both are
// idempotent and may be called from several threads; cancel escalates a drain already in progress.
// After shutdown begins, submit() and try_submit() throw PoolClosed and post() returns false; a
// submit() blocked on a full queue wakes up and throws PoolClosed. The destructor runs
// shutdown(ShutdownMode::drain) — so it waits for queued and running tasks; a task that loops until
// its token is stopped keeps the destructor waiting: call shutdown(ShutdownMode::cancel) first.
// Called from inside one of the pool's own tasks, shutdown() starts the shutdown but does not join
// (a worker cannot join itself); destroying the pool from one of its own tasks aborts the process.
//
// Counters (snapshots): completed() returned normally, failed() threw, dropped() never ran because of
// the overflow policy or shutdown(cancel), cancelled() never ran because its handle cancelled it
// while queued; running() and queued() right now. A task is counted before its handle reports it
// finished, so after get() returns the counters already include it.
//
// Thread safety: every member function may be called from any thread concurrently, except the
// destructor (no other call may run or start once it begins). A TaskHandle is used by one thread at a
// time (it is move-only); its shared state is synchronised with the worker.
// Blocking: submit()/post() only on a full Overflow::block queue; TaskHandle::get()/wait*() until the
// task finished; shutdown() and the destructor until the workers are joined. Everything else returns
// at once.
// Cost: one allocation per submitted task (handle state and callable together; a task taking a
// std::stop_token needs a second one for its std::stop_source); post() of a callable with up to 24
// bytes of nothrow-movable captures allocates nothing beyond the queue's own storage.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "dcp/core/channel.hpp"
#include "dcp/core/detail/backoff.hpp"
#include "dcp/core/detail/deadline.hpp"
#include "dcp/core/error_report.hpp"
#include "dcp/core/detail/thread_name.hpp"
#include "dcp/core/detail/unique_task.hpp"
#include "dcp/core/overflow.hpp"
#include "dcp/core/shutdown.hpp"

namespace dcp {

enum class TaskState {
  queued,     ///< waiting in the pool's queue
  running,    ///< a worker is executing it
  done,       ///< it returned; get() returns the result
  failed,     ///< it threw; get() rethrows
  cancelled,  ///< it never ran (cancelled while queued, or dropped); get() throws TaskCancelled
};

constexpr const char* to_string(TaskState state) noexcept {
  switch (state) {
    case TaskState::queued: return "queued";
    case TaskState::running: return "running";
    case TaskState::done: return "done";
    case TaskState::failed: return "failed";
    case TaskState::cancelled: return "cancelled";
  }
  return "unknown";
}

struct ShutdownReport {
  /// Queued tasks dropped by shutdown(ShutdownMode::cancel) without running (0 for a pure drain).
  /// Overflow-policy drops are not included: see WorkerPool::dropped().
  std::size_t dropped = 0;
  /// Tasks that ran to completion (returned normally) after the shutdown began.
  std::size_t completed_during_shutdown = 0;
};

class WorkerPool;

namespace detail {

/// A callable the pool accepts: f() or f(std::stop_token), movable into the queue.
template <class F>
concept PoolCallable = std::is_constructible_v<std::decay_t<F>, F> &&
                       std::is_move_constructible_v<std::decay_t<F>> &&
                       (std::is_invocable_v<std::decay_t<F>, std::stop_token> || std::is_invocable_v<std::decay_t<F>>);

/// Like std::jthread: a callable that accepts a std::stop_token gets one.
template <class Fn>
inline constexpr bool takes_stop_token = std::is_invocable_v<Fn, std::stop_token>;

template <class Fn, bool = takes_stop_token<Fn>>
struct TaskResult {
  using type = std::invoke_result_t<Fn, std::stop_token>;
};
template <class Fn>
struct TaskResult<Fn, false> {
  using type = std::invoke_result_t<Fn>;
};
/// The result type of a task: what f(std::stop_token) or f() returns.
template <class F>
using task_result_t = typename TaskResult<std::decay_t<F>>::type;

// Counters shared by the workers; updated before a handle is told that its task finished, so a
// caller returning from get() sees them already counted.
struct PoolCounters {
  alignas(kCacheLine) std::atomic<std::size_t> running{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> cancelled{0};         // skipped: cancelled through the handle while queued
  std::atomic<std::uint64_t> shutdown_dropped{0};  // dropped by shutdown(cancel)
};

/// What a queued task needs from the thread that runs (or drops) it.
struct WorkerContext {
  std::stop_token pool_token;
  PoolCounters& counters;
  const ErrorCallback& on_error;
  const std::string& pool_name;

  /// Hands an exception nobody else will see to deliver_error(); `what` says which kind of task
  /// threw ("a posted task", "a detached task"). Never throws: should building the texts fail (out of
  /// memory), a fixed text is reported instead, so the error is still counted.
  void report_unobserved(const char* what, const std::exception_ptr& error) noexcept {
    try {
      deliver_error(on_error, "worker pool '" + pool_name + "'", std::string(what) + " threw: " + describe_exception(error));
    } catch (...) {
      report_error("worker pool", "a task threw (its description could not be allocated)");
    }
  }
};

enum class RunMode : unsigned char {
  run,   ///< execute the task
  drop,  ///< shutdown(cancel): discard it without running
};

/// The queue's value type.
using PoolTask = UniqueTask<void(RunMode, WorkerContext&)>;

// ---------------------------------------------------------------------------------------------------
// Handle state of one submitted task. The callable lives in the same allocation (TaskBox below).
// Two references: the TaskHandle and the queued task. The callable is destroyed by whoever moves the
// state out of `queued` (the worker after running it, cancel(), or the queue discarding it), so its
// captures are released as soon as it is known it will not run again.
// ---------------------------------------------------------------------------------------------------
template <class R>
struct ResultSlot {
  std::optional<R> value;
};
template <>
struct ResultSlot<void> {};

template <class R>
class TaskShared {
 public:
  TaskShared(const TaskShared&) = delete;
  TaskShared& operator=(const TaskShared&) = delete;

  void release() noexcept {
    if (references_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  [[nodiscard]] TaskState state() const noexcept { return state_.load(std::memory_order_acquire); }
  [[nodiscard]] bool finished() const noexcept { return is_final(state()); }

  /// On a worker: runs the callable unless the task was cancelled meanwhile.
  void run(WorkerContext& context) {
    TaskState expected = TaskState::queued;
    if (!state_.compare_exchange_strong(expected, TaskState::running, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
      context.counters.cancelled.fetch_add(1, std::memory_order_relaxed);  // cancelled while queued
      return;
    }
    context.counters.running.fetch_add(1, std::memory_order_relaxed);
    bool returned = true;
    try {
      invoke(context.pool_token);
    } catch (...) {
      error_ = std::current_exception();
      returned = false;
    }
    destroy_function();
    context.counters.running.fetch_sub(1, std::memory_order_relaxed);
    if (returned) {
      context.counters.completed.fetch_add(1, std::memory_order_relaxed);
    } else {
      context.counters.failed.fetch_add(1, std::memory_order_relaxed);
    }
    publish(returned ? TaskState::done : TaskState::failed);
    // Checked after publishing, so a handle destroyed at any moment before is seen: only the
    // queue's reference (ours) is left, nobody can ever see the error. The acquire pairs with the
    // handle's release, so a take_error() it did (get()) happened before and error_ is then empty.
    // A handle still alive here sees the final state and owns the error.
    if (!returned && references_.load(std::memory_order_acquire) == 1 && error_) {
      context.report_unobserved("a detached task", error_);
      error_ = nullptr;  // destroyed here, on the worker, like a posted task's
    }
  }

  /// Marks a still-queued task cancelled (it will never run). True when this call did it.
  bool abandon() noexcept {
    TaskState expected = TaskState::queued;
    if (!state_.compare_exchange_strong(expected, TaskState::cancelled, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
      return false;
    }
    destroy_function();
    { std::lock_guard lock(mutex_); }  // a waiter between its check and its sleep cannot miss the notify
    finished_.notify_all();
    return true;
  }

  /// Requests stop on the task's own token, and keeps it from starting if it is still queued.
  void cancel() noexcept {
    if (stop_.stop_possible()) stop_.request_stop();
    abandon();
  }

  void wait() {
    if (spin_until_finished()) return;
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [this] { return finished(); });
  }

  bool wait_until(SteadyTime deadline) {
    if (spin_until_finished()) return true;
    std::unique_lock lock(mutex_);
    return finished_.wait_until(lock, deadline, [this] { return finished(); });
  }

  /// The task's exception, moved out: after this the shared state no longer owns the exception
  /// object, so it is destroyed by the thread that handles it, not by whichever thread happens to
  /// release the state last (which ThreadSanitizer cannot see through libstdc++'s exception_ptr).
  [[nodiscard]] std::exception_ptr take_error() noexcept { return std::exchange(error_, nullptr); }

  R take_result() {
    if constexpr (std::is_void_v<R>) {
      return;
    } else {
      return std::move(*result_.value);
    }
  }

 protected:
  explicit TaskShared(bool with_stop_source)
      : stop_(with_stop_source ? std::stop_source() : std::stop_source(std::nostopstate)) {}
  virtual ~TaskShared() = default;

  /// Calls the callable once and stores its result; may throw (the task's exception).
  virtual void invoke(const std::stop_token& pool_token) = 0;
  /// Destroys the callable; called exactly once, by whoever moved the state out of `queued`.
  virtual void destroy_function() noexcept = 0;

  ResultSlot<R> result_;
  std::stop_source stop_;  // the task's own; nostopstate when the callable takes no token

 private:
  // Short tasks finish within microseconds: spin and yield briefly (as the channels do) before
  // paying for a sleep and a wake-up on the condition variable.
  bool spin_until_finished() const noexcept {
    Backoff backoff;
    while (!finished()) {
      if (backoff.is_completed()) return false;
      backoff.snooze();
    }
    return true;
  }

  static bool is_final(TaskState s) noexcept {
    return s == TaskState::done || s == TaskState::failed || s == TaskState::cancelled;
  }

  void publish(TaskState final_state) noexcept {
    {
      std::lock_guard lock(mutex_);
      state_.store(final_state, std::memory_order_release);
    }
    finished_.notify_all();
  }

  std::atomic<std::uint32_t> references_{2};
  std::atomic<TaskState> state_{TaskState::queued};
  std::exception_ptr error_;
  std::mutex mutex_;
  std::condition_variable finished_;
};

template <class R, class Fn>
class TaskBox final : public TaskShared<R> {
 public:
  template <class F>
  explicit TaskBox(F&& f) : TaskShared<R>(takes_stop_token<Fn>), function_(std::forward<F>(f)) {}

  ~TaskBox() override {
    if (this->state() == TaskState::queued) function_.~Fn();  // never left the queue (defensive)
  }

 private:
  void invoke(const std::stop_token& pool_token) override {
    if constexpr (takes_stop_token<Fn>) {
      // The task's token reports stop when its handle cancels it or when the pool is cancelled.
      std::stop_callback link(pool_token, [this]() noexcept { this->stop_.request_stop(); });
      store([&]() -> R { return std::invoke(std::move(function_), this->stop_.get_token()); });
    } else {
      store([&]() -> R { return std::invoke(std::move(function_)); });
    }
  }

  template <class Call>
  void store(Call&& call) {
    if constexpr (std::is_void_v<R>) {
      call();
    } else {
      this->result_.value.emplace(call());
    }
  }

  void destroy_function() noexcept override { function_.~Fn(); }

  union {
    Fn function_;  // alive while the state is `queued` or `running`
  };
};

/// The queue entry of a submitted task: one pointer, so the UniqueTask stores it without allocating.
/// Destroyed without having run (evicted, dropped, queue destroyed), it marks the handle cancelled.
template <class R>
class QueuedTask {
 public:
  explicit QueuedTask(TaskShared<R>* shared) noexcept : shared_(shared) {}
  QueuedTask(QueuedTask&& other) noexcept : shared_(std::exchange(other.shared_, nullptr)) {}
  QueuedTask& operator=(QueuedTask&&) = delete;
  ~QueuedTask() {
    if (shared_ != nullptr) {
      shared_->abandon();
      shared_->release();
    }
  }

  void operator()(RunMode mode, WorkerContext& context) {
    if (mode == RunMode::run) {
      shared_->run(context);
    } else if (shared_->abandon()) {
      context.counters.shutdown_dropped.fetch_add(1, std::memory_order_relaxed);
    } else {
      context.counters.cancelled.fetch_add(1, std::memory_order_relaxed);
    }
  }

 private:
  TaskShared<R>* shared_;
};

/// The queue entry of a post()ed task: the callable itself; exceptions are reported (report_unobserved).
template <class Fn>
class PostedTask {
 public:
  template <class F>
  explicit PostedTask(F&& f) : function_(std::forward<F>(f)) {}

  void operator()(RunMode mode, WorkerContext& context) {
    if (mode == RunMode::drop) {
      context.counters.shutdown_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    context.counters.running.fetch_add(1, std::memory_order_relaxed);
    std::exception_ptr error;
    try {
      if constexpr (takes_stop_token<Fn>) {
        std::invoke(std::move(function_), std::stop_token(context.pool_token));
      } else {
        std::invoke(std::move(function_));
      }
    } catch (...) {
      error = std::current_exception();
    }
    context.counters.running.fetch_sub(1, std::memory_order_relaxed);
    if (!error) {
      context.counters.completed.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    context.counters.failed.fetch_add(1, std::memory_order_relaxed);
    // Reported after the catch block ended; the exception is destroyed here, on the worker.
    context.report_unobserved("a posted task", error);
  }

 private:
  Fn function_;
};

/// The pool whose worker is the calling thread (nullptr on other threads).
inline thread_local const WorkerPool* current_worker_pool = nullptr;

}  // namespace detail

/// The caller's view of one submitted task. Move-only; R may be void or move-only.
template <class R>
class TaskHandle {
 public:
  /// An invalid handle (valid() is false).
  TaskHandle() noexcept = default;
  TaskHandle(TaskHandle&& other) noexcept : shared_(std::exchange(other.shared_, nullptr)) {}
  TaskHandle& operator=(TaskHandle&& other) noexcept {
    if (this != &other) {
      reset();
      shared_ = std::exchange(other.shared_, nullptr);
    }
    return *this;
  }
  TaskHandle(const TaskHandle&) = delete;
  TaskHandle& operator=(const TaskHandle&) = delete;
  /// Detaches: the task still runs; an exception it throws is then reported (WorkerPool::Options::on_error).
  ~TaskHandle() { reset(); }

  /// Blocks until the task finished, then returns its result, rethrows its exception, or throws
  /// TaskCancelled when it never ran. Consumes the handle: valid() is false afterwards.
  R get() {
    shared("get").wait();
    Owner owner{std::exchange(shared_, nullptr)};
    switch (owner.shared->state()) {
      case TaskState::done:
        return owner.shared->take_result();
      case TaskState::failed:
        std::rethrow_exception(owner.shared->take_error());
      default:
        throw TaskCancelled();
    }
  }

  /// Blocks until the task finished (done, failed or cancelled).
  void wait() const { shared("wait").wait(); }

  /// True when the task finished within `timeout`; a negative timeout throws std::invalid_argument.
  template <class Rep, class Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    auto& s = shared("wait_for");
    return s.wait_until(detail::deadline_after(timeout, "dcp::TaskHandle::wait_for"));
  }

  /// True when the task finished by `deadline`.
  template <class Clock, class Duration>
  bool wait_until(std::chrono::time_point<Clock, Duration> deadline) const {
    auto& s = shared("wait_until");
    return s.wait_until(detail::to_steady(deadline));
  }

  /// The task finished (done, failed or cancelled): get() will not block.
  [[nodiscard]] bool ready() const { return shared("ready").finished(); }
  [[nodiscard]] TaskState state() const { return shared("state").state(); }

  /// Requests stop on the task's std::stop_token; a task still queued will never run (state
  /// cancelled). A running task that takes no token cannot be cancelled and runs to its end.
  void cancel() { shared("cancel").cancel(); }

  /// False after a move, after get(), or for a default-constructed handle.
  [[nodiscard]] bool valid() const noexcept { return shared_ != nullptr; }

 private:
  friend class WorkerPool;
  explicit TaskHandle(detail::TaskShared<R>* shared) noexcept : shared_(shared) {}

  struct Owner {
    detail::TaskShared<R>* shared;
    ~Owner() { shared->release(); }
  };

  detail::TaskShared<R>& shared(const char* operation) const {
    if (shared_ == nullptr) {
      throw std::logic_error(std::string("dcp::TaskHandle::") + operation +
                             ": the handle is not valid (moved from, default-constructed, or get() already called)");
    }
    return *shared_;
  }

  void reset() noexcept {
    if (shared_ != nullptr) std::exchange(shared_, nullptr)->release();
  }

  detail::TaskShared<R>* shared_ = nullptr;
};

class WorkerPool {
 public:
  struct Options {
    /// Worker threads; 0 = std::thread::hardware_concurrency() (at least 1).
    std::size_t threads = 0;
    /// Bound of the submission queue; 0 = unbounded (then `overflow` does not matter).
    std::size_t queue_capacity = 0;
    /// What submit()/post() do when the bounded queue is full.
    Overflow overflow = Overflow::block;
    /// Name of every worker thread (pthread_setname_np; truncated to 15 characters) and, in full, of
    /// the error source "worker pool '<name>'".
    std::string name = "dcp-worker";
    /// Called (on the worker) with every exception nobody else can receive: a post()ed task's, or a
    /// detached handle's task's. Empty (the default): report_error() (dcp/core/error_report.hpp).
    ErrorCallback on_error = nullptr;
  };

  /// Options{}: one worker per hardware thread, unbounded queue.
  WorkerPool() : WorkerPool(Options{}) {}

  /// Starts the workers. Throws std::invalid_argument for a bad option (naming the field), or
  /// std::system_error when a thread cannot be started (already started workers are joined first).
  explicit WorkerPool(Options options)
      : options_(checked(std::move(options))),
        queue_(options_.queue_capacity == 0 ? unbounded<detail::PoolTask>()
                                            : bounded<detail::PoolTask>(options_.queue_capacity, options_.overflow)) {
    try {
      threads_.reserve(options_.threads);
      for (std::size_t i = 0; i < options_.threads; ++i) {
        threads_.emplace_back([this, queue = queue_.second]() mutable noexcept { work(queue); });
      }
    } catch (...) {
      queue_.first.close();
      for (std::thread& t : threads_) t.join();
      throw;
    }
  }

  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  /// shutdown(ShutdownMode::drain) unless already shut down: waits for queued and running tasks and
  /// joins every worker. Never throws.
  ~WorkerPool() {
    if (detail::current_worker_pool == this) {
      std::fprintf(stderr, "dcp::WorkerPool '%s': destroyed from one of its own tasks (a worker cannot join itself)\n",
                   options_.name.c_str());
      std::terminate();
    }
    try {
      shutdown(ShutdownMode::drain);
    } catch (...) {
      try {
        report_error("worker pool '" + options_.name + "'", "shutdown in the destructor failed: " +
                                                                 describe_current_exception());
      } catch (...) {
        report_error("worker pool", "shutdown in the destructor failed");
      }
    }
  }

  /// Queues f() or f(std::stop_token) and returns its handle. Blocks while a bounded
  /// Overflow::block queue is full. With a dropping policy the task (drop_newest) or the oldest
  /// queued one (drop_oldest) is dropped and its handle reports cancelled.
  /// Throws PoolClosed once shutdown() has begun (also when it begins while this call blocks).
  template <class F>
    requires detail::PoolCallable<F>
  TaskHandle<detail::task_result_t<F>> submit(F&& f) {
    auto [task, handle] = make_task(std::forward<F>(f));
    SendResult<detail::PoolTask> sent = queue_.first.send(std::move(task));
    if (sent.is_closed()) throw closed("submit");
    return std::move(handle);
  }

  /// Like submit() but never blocks: std::nullopt when a bounded Overflow::block queue is full (the
  /// task is discarded unrun). Throws PoolClosed once shutdown() has begun.
  template <class F>
    requires detail::PoolCallable<F>
  std::optional<TaskHandle<detail::task_result_t<F>>> try_submit(F&& f) {
    auto [task, handle] = make_task(std::forward<F>(f));
    SendResult<detail::PoolTask> sent = queue_.first.try_send(std::move(task));
    if (sent.is_closed()) throw closed("try_submit");
    if (sent.is_full()) return std::nullopt;
    return std::optional<TaskHandle<detail::task_result_t<F>>>(std::move(handle));
  }

  /// Fire-and-forget: queues f() or f(std::stop_token) (it gets the pool's token); an exception it
  /// throws is reported (Options::on_error). Blocks like submit(). False when the task was dropped (drop_newest) or
  /// the pool is shut down; never throws PoolClosed.
  template <class F>
    requires detail::PoolCallable<F>
  bool post(F&& f) {
    detail::PoolTask task(detail::PostedTask<std::decay_t<F>>(std::forward<F>(f)));
    return queue_.first.send(std::move(task)).ok();
  }

  /// Stops the pool (see the header comment). Idempotent: later calls return the same numbers once
  /// the workers are joined; a cancel after a drain escalates it.
  ShutdownReport shutdown(ShutdownMode mode) {
    {
      std::lock_guard lock(shutdown_mutex_);
      const bool first_call = !shutdown_started_.load(std::memory_order_relaxed);
      if (first_call) completed_at_shutdown_ = counters_.completed.load(std::memory_order_relaxed);
      if (mode == ShutdownMode::cancel) stop_source_.request_stop();
      queue_.first.close();
      if (first_call) shutdown_started_.store(true, std::memory_order_release);  // after the close
    }
    if (mode == ShutdownMode::cancel) {
      // Drop what is queued right away instead of waiting for workers busy with long tasks.
      detail::WorkerContext context{stop_source_.get_token(), counters_, options_.on_error, options_.name};
      std::lock_guard lock(drop_mutex_);  // queue_.second is one handle object: one user at a time
      for (;;) {
        RecvResult<detail::PoolTask> next = queue_.second.try_recv();
        if (!next.ok()) break;
        (*next)(detail::RunMode::drop, context);
      }
    }
    if (detail::current_worker_pool != this) {
      std::lock_guard lock(join_mutex_);
      for (std::thread& t : threads_) {
        if (t.joinable()) t.join();
      }
    }
    ShutdownReport report;
    report.dropped = static_cast<std::size_t>(counters_.shutdown_dropped.load(std::memory_order_relaxed));
    std::lock_guard lock(shutdown_mutex_);
    report.completed_during_shutdown =
        static_cast<std::size_t>(counters_.completed.load(std::memory_order_relaxed) - completed_at_shutdown_);
    return report;
  }

  /// True once shutdown() has begun (or the destructor started it): submissions are refused.
  [[nodiscard]] bool is_shut_down() const noexcept { return shutdown_started_.load(std::memory_order_acquire); }

  [[nodiscard]] std::size_t thread_count() const noexcept { return threads_.size(); }
  /// Tasks waiting in the queue now (a snapshot).
  [[nodiscard]] std::size_t queued() const { return queue_.first.size(); }
  /// Tasks executing now (a snapshot).
  [[nodiscard]] std::size_t running() const noexcept { return counters_.running.load(std::memory_order_relaxed); }
  /// Tasks that returned normally.
  [[nodiscard]] std::uint64_t completed() const noexcept {
    return counters_.completed.load(std::memory_order_relaxed);
  }
  /// Tasks that threw.
  [[nodiscard]] std::uint64_t failed() const noexcept { return counters_.failed.load(std::memory_order_relaxed); }
  /// Tasks that never ran because the pool dropped them: the overflow policy, or shutdown(cancel).
  [[nodiscard]] std::uint64_t dropped() const {
    return queue_.first.dropped() + counters_.shutdown_dropped.load(std::memory_order_relaxed);
  }
  /// Tasks that never ran because their handle cancelled them while queued (counted when a worker
  /// or shutdown(cancel) takes them out of the queue).
  [[nodiscard]] std::uint64_t cancelled() const noexcept {
    return counters_.cancelled.load(std::memory_order_relaxed);
  }

  /// The pool-wide token: stop is requested by shutdown(ShutdownMode::cancel).
  [[nodiscard]] std::stop_token stop_token() const noexcept { return stop_source_.get_token(); }

  [[nodiscard]] const std::string& name() const noexcept { return options_.name; }

 private:
  static Options checked(Options options) {
    if (options.threads == 0) options.threads = std::thread::hardware_concurrency();
    if (options.threads == 0) options.threads = 1;
    if (options.queue_capacity > kMaxCapacity) {
      throw std::invalid_argument("dcp::WorkerPool: Options::queue_capacity = " +
                                  std::to_string(options.queue_capacity) + " exceeds dcp::kMaxCapacity (" +
                                  std::to_string(kMaxCapacity) + "); use 0 for an unbounded queue");
    }
    return options;
  }

  template <class F>
  static auto make_task(F&& f) {
    using Fn = std::decay_t<F>;
    using R = detail::task_result_t<F>;
    static_assert(!std::is_reference_v<R>,
                  "dcp::WorkerPool: a task may not return a reference; return a pointer or std::reference_wrapper");
    static_assert(std::is_void_v<R> || std::is_move_constructible_v<R>,
                  "dcp::WorkerPool: a task's result must be void or move-constructible");
    auto* box = new detail::TaskBox<R, Fn>(std::forward<F>(f));  // references: handle + queue entry
    return std::pair<detail::PoolTask, TaskHandle<R>>(detail::PoolTask(detail::QueuedTask<R>(box)),
                                                      TaskHandle<R>(box));
  }

  PoolClosed closed(const char* operation) const {
    return PoolClosed(std::string("dcp::WorkerPool::") + operation + ": pool '" + options_.name +
                      "' is shut down (shutdown() was called or the pool is being destroyed)");
  }

  void work(Receiver<detail::PoolTask>& queue) noexcept {
    detail::set_current_thread_name(options_.name);
    detail::current_worker_pool = this;
    detail::WorkerContext context{stop_source_.get_token(), counters_, options_.on_error, options_.name};
    for (;;) {
      RecvResult<detail::PoolTask> next = queue.recv();
      if (!next.ok()) break;  // closed and drained
      const bool cancelling = context.pool_token.stop_requested();
      (*next)(cancelling ? detail::RunMode::drop : detail::RunMode::run, context);
    }
    detail::current_worker_pool = nullptr;
  }

  const Options options_;
  detail::PoolCounters counters_;
  std::stop_source stop_source_;
  std::pair<Sender<detail::PoolTask>, Receiver<detail::PoolTask>> queue_;

  std::mutex shutdown_mutex_;
  std::atomic<bool> shutdown_started_{false};  // written under shutdown_mutex_
  std::uint64_t completed_at_shutdown_ = 0;
  std::mutex drop_mutex_;
  std::mutex join_mutex_;
  std::vector<std::thread> threads_;
};

}  // namespace dcp
