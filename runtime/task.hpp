#pragma once

#include <cassert>
#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "runtime/frame_cache.hpp"
#include "runtime/trampoline.hpp"

namespace ringline::runtime {

template <typename T = void>
class task;

namespace detail {

/// The parts of a task's promise that do not depend on its value type.
class task_promise_base {
 public:
  // Frames come from the thread's recycled ones (runtime/frame_cache.hpp).
  static void* operator new(std::size_t bytes) { return allocate_frame(bytes); }
  static void operator delete(void* frame, std::size_t bytes) noexcept { free_frame(frame, bytes); }

  /// Tasks are lazy: the body starts when the task is first awaited (or run by a loop).
  std::suspend_always initial_suspend() noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() noexcept { return false; }
    template <typename Promise>
    void await_suspend(std::coroutine_handle<Promise> self) noexcept {
      // The frame stays alive, suspended at its final point, until the task object that
      // owns it is destroyed by the awaiter, which reads the result first.
      if (auto continuation = self.promise().m_continuation) {
        detail::resume(continuation);
      }
    }
    void await_resume() noexcept {}
  };
  final_awaiter final_suspend() noexcept { return {}; }

  void unhandled_exception() noexcept { m_exception = std::current_exception(); }

  /// Returns true when the body ended with an exception.
  [[nodiscard]] bool failed() const noexcept { return static_cast<bool>(m_exception); }

  void set_continuation(std::coroutine_handle<> continuation) noexcept {
    assert(!m_continuation && "a task may be awaited only once");
    m_continuation = continuation;
  }

 protected:
  void rethrow_if_failed() const {
    if (m_exception) {
      std::rethrow_exception(m_exception);
    }
  }

 private:
  std::coroutine_handle<> m_continuation;
  std::exception_ptr m_exception;
};

template <typename T>
class task_promise final : public task_promise_base {
 public:
  task<T> get_return_object() noexcept;

  template <typename U>
  requires std::is_convertible_v<U&&, T>
  void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
    m_value.emplace(std::forward<U>(value));
  }

  T take_result() {
    rethrow_if_failed();
    assert(m_value.has_value());
    return std::move(*m_value);
  }

 private:
  std::optional<T> m_value;
};

template <>
class task_promise<void> final : public task_promise_base {
 public:
  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void take_result() const { rethrow_if_failed(); }
};

}  // namespace detail

/// A lazily started coroutine that produces a T (or an exception) for the one coroutine
/// that awaits it.
///
/// Move-only; the task owns its coroutine frame and destroys it in its destructor, so a task
/// must outlive its own execution: await it (the usual case), or hand it to
/// event_loop::spawn or event_loop::run, which take ownership. Not thread-safe: a task is
/// created, awaited and destroyed on one event loop's thread. An exception that escapes the
/// body is rethrown by `co_await`.
template <typename T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::task_promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle_type handle) noexcept : m_handle(handle) {}
  task(task&& other) noexcept : m_handle(std::exchange(other.m_handle, nullptr)) {}
  task& operator=(task&& other) noexcept {
    if (this != &other) {
      destroy();
      m_handle = std::exchange(other.m_handle, nullptr);
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() { destroy(); }

  /// Returns true when the task holds a frame.
  [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(m_handle); }
  /// Returns true when the body has finished (returned or thrown).
  [[nodiscard]] bool done() const noexcept { return m_handle && m_handle.done(); }

  struct awaiter {
    handle_type m_handle;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> awaiting) noexcept {
      m_handle.promise().set_continuation(awaiting);
      detail::resume(m_handle);
    }
    T await_resume() { return m_handle.promise().take_result(); }
  };

  /// Starts the task and suspends the awaiting coroutine until the task finishes; returns
  /// its value or rethrows its exception.
  awaiter operator co_await() && noexcept {
    assert(m_handle && !m_handle.done());
    return awaiter{m_handle};
  }
  awaiter operator co_await() & noexcept {
    assert(m_handle && !m_handle.done());
    return awaiter{m_handle};
  }

  /// Returns the frame's handle; the task keeps ownership. For event loops and tests.
  [[nodiscard]] handle_type handle() const noexcept { return m_handle; }

 private:
  void destroy() noexcept {
    if (m_handle) {
      std::exchange(m_handle, nullptr).destroy();
    }
  }

  handle_type m_handle;
};

namespace detail {
template <typename T>
task<T> task_promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<task_promise>::from_promise(*this)};
}
}  // namespace detail

}  // namespace ringline::runtime
