// Versioned messages: a payload sealed with a tag and a version, so that a C++ service and the
// Erlang programs that talk to it can change a message's shape one side at a time. A decoder
// knows the current version and the migrations from older ones (a step v -> v+1, or a jump along
// any edge of a graph of migrations); an older message is migrated along the shortest path, then
// decoded with Codec<T>. Each way to fail has its own error.
//
// On the wire: {'$envelope', Tag :: binary(), Version :: non_neg_integer(), Payload}.
//
//   Versioned<Order> orders("order", 3);
//   orders.migrate(1, 2, add_currency).migrate(2, 3, split_name);
//   Term t = orders.seal(order);                 // {'$envelope', <<"order">>, 3, {order, ...}}
//   Expected<Order, EnvelopeError> o = orders.open(t_from_an_old_client);
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "distribute/codec.hpp"
#include "distribute/error.hpp"
#include "distribute/expected.hpp"
#include "distribute/term.hpp"

namespace distribute {

enum class EnvelopeErrc {
    not_an_envelope = 1,  // not {'$envelope', Tag, Version, Payload}
    tag_mismatch,         // an envelope for another kind of message
    version_mismatch,     // newer than the current version: this side must be upgraded
    migration_missing,    // no chain of migrations leads from its version to the current one
    migration_failed,     // a migration step refused the payload
    bad_payload,          // the (migrated) payload does not decode as T: see `payload`
};
const std::error_category& envelope_category() noexcept;
std::error_code make_error_code(EnvelopeErrc e) noexcept;

struct EnvelopeError {
    EnvelopeErrc code{};
    std::string detail;
    std::optional<CodecError> payload;  // bad_payload: where and what
};

struct Envelope {
    std::string tag;
    std::uint32_t version = 0;
    Term payload;
};

Term seal(std::string_view tag, std::uint32_t version, Term payload);
[[nodiscard]] Expected<Envelope, EnvelopeError> unseal(const Term& term);

// Turns a payload of one version into the next one's. An error ends the decode: usually
// migration_failed (or bad_payload, when the old payload does not decode), which open() returns
// with its detail prefixed by the step ("point 1 -> 2: ...").
using Migration = std::function<Expected<Term, EnvelopeError>(const Term& payload)>;

// What a migration returns when it refuses a payload: `return migration_failed("why");`.
[[nodiscard]] inline Unexpected<EnvelopeError> migration_failed(std::string why) {
    return unexpected(EnvelopeError{EnvelopeErrc::migration_failed, std::move(why), std::nullopt});
}

// The migration graph, without the type: what Versioned<T> uses.
class Migrations {
  public:
    Migrations(std::string tag, std::uint32_t current);
    void add(std::uint32_t from, std::uint32_t to, Migration step);
    const std::string& tag() const { return tag_; }
    std::uint32_t current() const { return current_; }
    // The payload at the current version.
    [[nodiscard]] Expected<Term, EnvelopeError> bring_up(const Term& sealed) const;

  private:
    std::string tag_;
    std::uint32_t current_;
    std::map<std::uint32_t, std::vector<std::pair<std::uint32_t, Migration>>> edges_;
};

template <class T>
class Versioned {
  public:
    Versioned(std::string tag, std::uint32_t current) : migrations_(std::move(tag), current) {}

    // A migration from version `from` to version `to` (to > from, to <= current).
    Versioned& migrate(std::uint32_t from, std::uint32_t to, Migration step) {
        migrations_.add(from, to, std::move(step));
        return *this;
    }
    Term seal(const T& value) const {
        return distribute::seal(migrations_.tag(), migrations_.current(), encode(value));
    }
    [[nodiscard]] Expected<T, EnvelopeError> open(const Term& term) const {
        auto payload = migrations_.bring_up(term);
        if (!payload) return unexpected(payload.error());
        auto value = decode<T>(*payload);
        if (!value)
            return unexpected(
                EnvelopeError{EnvelopeErrc::bad_payload, value.error().to_string(), value.error()});
        return std::move(*value);
    }

  private:
    Migrations migrations_;
};

}  // namespace distribute

template <>
struct std::is_error_code_enum<distribute::EnvelopeErrc> : std::true_type {};
