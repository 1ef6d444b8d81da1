// The library's one error convention. Each module has an enum of codes (`XxxErrc`) that works as
// a std::error_code (its category is named "distribute.xxx"), and one error struct that carries
// the code, a detail string for logs and, where the BEAM gives one, the reason term a BEAM
// caller would see. Errors are values in an Expected; no API uses a bare string or Term as one.
#pragma once

#include <string>
#include <system_error>

namespace distribute {

// The category of one module's codes: its name and, through `messages`, a fixed one-line text
// per code. `messages` is a switch over the enum, so the compiler warns of a code left out; it
// gives nullptr for a value that is no code.
template <class Errc>
class ErrorCategory final : public std::error_category {
  public:
    using Messages = const char* (*)(Errc) noexcept;
    constexpr ErrorCategory(const char* name, Messages messages) noexcept
        : name_(name), messages_(messages) {}

    const char* name() const noexcept override { return name_; }
    std::string message(int code) const override {
        if (const char* text = messages_(static_cast<Errc>(code))) return text;
        return "unknown " + std::string(name_) + " error " + std::to_string(code);
    }

  private:
    const char* name_;
    Messages messages_;
};

// The error struct of a module whose failures are a code and a detail (no BEAM reason term):
// NodeError, EpmdError, PoolError, ... are this. `make_error_code(Errc)` must be declared.
template <class Errc>
struct CodedError {
    Errc code{};
    std::string detail;  // what and where, for logs: "kv@host: cannot connect"

    std::error_code error_code() const noexcept { return make_error_code(code); }
    // "the code's message: detail", or the message alone when there is no detail.
    std::string to_string() const {
        std::string out = error_code().message();
        if (!detail.empty()) out.append(": ").append(detail);
        return out;
    }
};

}  // namespace distribute
