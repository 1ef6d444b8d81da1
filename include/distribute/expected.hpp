// A value or the reason there is none. Expected failures (a malformed frame, a timeout, a missing
// process) are values, not exceptions: callers must look before they use the result.
#pragma once

#include <stdexcept>
#include <type_traits>
#include <utility>
#include <variant>

namespace distribute {

template <class E>
struct Unexpected {
    E error;
};

template <class E>
Unexpected(E) -> Unexpected<E>;

template <class E>
[[nodiscard]] Unexpected<std::decay_t<E>> unexpected(E&& error) {
    return {std::forward<E>(error)};
}

// Thrown only when code reads the value of an Expected that holds an error: a programmer error.
class BadExpectedAccess : public std::logic_error {
  public:
    BadExpectedAccess() : std::logic_error("value() called on an Expected that holds an error") {}
};

template <class T, class E>
class [[nodiscard]] Expected {
  public:
    Expected(const T& value) : state_(std::in_place_index<0>, value) {}
    Expected(T&& value) : state_(std::in_place_index<0>, std::move(value)) {}
    template <class G>
    Expected(Unexpected<G> error) : state_(std::in_place_index<1>, std::move(error.error)) {}

    bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    T& value() & { return check(), std::get<0>(state_); }
    const T& value() const& { return check(), std::get<0>(state_); }
    T&& value() && { return check(), std::get<0>(std::move(state_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const E& error() const& { return std::get<1>(state_); }
    E&& error() && { return std::get<1>(std::move(state_)); }

    template <class U>
    T value_or(U&& fallback) const& {
        return has_value() ? std::get<0>(state_) : static_cast<T>(std::forward<U>(fallback));
    }

  private:
    void check() const {
        if (!has_value()) throw BadExpectedAccess();
    }
    std::variant<T, E> state_;
};

// For operations that return nothing but may fail.
template <class E>
class [[nodiscard]] Expected<void, E> {
  public:
    Expected() = default;
    template <class G>
    Expected(Unexpected<G> error) : error_(std::move(error.error)), failed_(true) {}

    bool has_value() const noexcept { return !failed_; }
    explicit operator bool() const noexcept { return has_value(); }
    void value() const {
        if (failed_) throw BadExpectedAccess();
    }
    const E& error() const& { return error_; }

  private:
    E error_{};
    bool failed_ = false;
};

}  // namespace distribute
