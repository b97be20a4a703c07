#pragma once

#include <cassert>
#include <system_error>
#include <type_traits>
#include <utility>
#include <variant>

namespace ringline::runtime {

/// Holds either a value of type T or the std::error_code that explains why there is none.
///
/// The part of std::expected<T, std::error_code> this project uses; GCC 12 ships <expected>
/// only for -std=c++2b. Expected failures (EOF, resets, timeouts, cancellation) travel as
/// values of this type instead of exceptions. Accessing the value of an error result is a
/// programming error and asserts.
template <typename T>
class [[nodiscard]] result {
 public:
  /// Constructs a successful result holding `value`.
  result(T value) : m_state(std::in_place_index<0>, std::move(value)) {}  // NOLINT implicit
  /// Constructs a failed result; `error` must not be the zero (success) code.
  result(std::error_code error) : m_state(std::in_place_index<1>, error) {  // NOLINT implicit
    assert(error);
  }
  /// Constructs a failed result from an error enum such as std::errc.
  template <typename E>
  requires std::is_error_code_enum_v<E> || std::is_error_condition_enum_v<E> result(E error)
      : result(std::error_code(make_error_code(error))) {}  // NOLINT implicit

  /// Returns true when the result holds a value.
  [[nodiscard]] bool has_value() const noexcept { return m_state.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  /// Returns the value; the result must hold one.
  [[nodiscard]] T& value() & {
    assert(has_value());
    return *std::get_if<0>(&m_state);
  }
  [[nodiscard]] const T& value() const& {
    assert(has_value());
    return *std::get_if<0>(&m_state);
  }
  [[nodiscard]] T&& value() && {
    assert(has_value());
    return std::move(*std::get_if<0>(&m_state));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  /// Returns the value, or `fallback` when the result holds an error.
  [[nodiscard]] T value_or(T fallback) const& { return has_value() ? value() : fallback; }

  /// Returns the error, or a default-constructed (success) code when the result holds a value.
  [[nodiscard]] std::error_code error() const noexcept {
    const auto* error = std::get_if<1>(&m_state);
    return error != nullptr ? *error : std::error_code{};
  }

 private:
  std::variant<T, std::error_code> m_state;
};

/// A result with no value: success, or the error that happened.
template <>
class [[nodiscard]] result<void> {
 public:
  /// Constructs a successful result.
  result() = default;
  /// Constructs a result from `error`; a zero code means success.
  result(std::error_code error) : m_error(error) {}  // NOLINT implicit
  template <typename E>
  requires std::is_error_code_enum_v<E> || std::is_error_condition_enum_v<E> result(E error)
      : m_error(make_error_code(error)) {}  // NOLINT implicit

  [[nodiscard]] bool has_value() const noexcept { return !m_error; }
  explicit operator bool() const noexcept { return has_value(); }
  [[nodiscard]] std::error_code error() const noexcept { return m_error; }

 private:
  std::error_code m_error;
};

}  // namespace ringline::runtime
