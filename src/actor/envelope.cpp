#include "distribute/envelope.hpp"

#include <deque>
#include <stdexcept>

namespace distribute {

namespace {

const char* message_of(EnvelopeErrc e) noexcept {
    switch (e) {
        case EnvelopeErrc::not_an_envelope:
            return "not an envelope";
        case EnvelopeErrc::tag_mismatch:
            return "envelope tag mismatch";
        case EnvelopeErrc::version_mismatch:
            return "envelope version newer than this side knows";
        case EnvelopeErrc::migration_missing:
            return "no migration path to the current version";
        case EnvelopeErrc::migration_failed:
            return "a migration failed";
        case EnvelopeErrc::bad_payload:
            return "the payload does not decode";
    }
    return nullptr;
}

const Atom& envelope_atom() {
    static const Atom a = Atom::make("$envelope").value();
    return a;
}

EnvelopeError fail(EnvelopeErrc code, std::string detail) {
    return {code, std::move(detail), std::nullopt};
}

}  // namespace

const std::error_category& envelope_category() noexcept {
    static const ErrorCategory<EnvelopeErrc> category("distribute.envelope", message_of);
    return category;
}

std::error_code make_error_code(EnvelopeErrc e) noexcept {
    return {static_cast<int>(e), envelope_category()};
}

Term seal(std::string_view tag, std::uint32_t version, Term payload) {
    return tuple(envelope_atom(), binary(tag), version, std::move(payload));
}

Expected<Envelope, EnvelopeError> unseal(const Term& term) {
    if (!term.is_tuple(4) || !term[0].is_atom(envelope_atom()) || !term[1].is_binary())
        return unexpected(fail(EnvelopeErrc::not_an_envelope,
                               "not {'$envelope', Tag, Version, Payload}: " + to_string(term)));
    auto version = term[2].to<std::uint32_t>();
    if (!version)
        return unexpected(fail(EnvelopeErrc::not_an_envelope,
                               "version " + to_string(term[2]) + " is not a 32-bit integer"));
    return Envelope{std::string(term[1].text()), *version, term[3]};
}

Migrations::Migrations(std::string tag, std::uint32_t current)
    : tag_(std::move(tag)), current_(current) {}

void Migrations::add(std::uint32_t from, std::uint32_t to, Migration step) {
    if (to <= from || to > current_)
        throw std::invalid_argument(
            "a migration goes from an older version to a newer one, at "
            "most the current one");
    edges_[from].emplace_back(to, std::move(step));
}

Expected<Term, EnvelopeError> Migrations::bring_up(const Term& sealed) const {
    auto envelope = unseal(sealed);
    if (!envelope) return unexpected(envelope.error());
    if (envelope->tag != tag_)
        return unexpected(
            fail(EnvelopeErrc::tag_mismatch, "expected tag " + tag_ + ", got " + envelope->tag));
    const std::uint32_t from = envelope->version;
    if (from > current_)
        return unexpected(
            fail(EnvelopeErrc::version_mismatch, tag_ + " version " + std::to_string(from) +
                                                     " is newer than " + std::to_string(current_)));
    if (from == current_) return envelope->payload;

    // Fewest steps first: breadth-first over the versions the edges reach.
    std::map<std::uint32_t, std::pair<std::uint32_t, const Migration*>> came_from;
    std::deque<std::uint32_t> frontier{from};
    came_from[from] = {from, nullptr};
    while (!frontier.empty() && !came_from.count(current_)) {
        const std::uint32_t v = frontier.front();
        frontier.pop_front();
        auto out = edges_.find(v);
        if (out == edges_.end()) continue;
        for (const auto& [to, step] : out->second) {
            if (came_from.count(to)) continue;
            came_from[to] = {v, &step};
            frontier.push_back(to);
        }
    }
    if (!came_from.count(current_))
        return unexpected(fail(EnvelopeErrc::migration_missing,
                               "no migrations lead " + tag_ + " from version " +
                                   std::to_string(from) + " to " + std::to_string(current_)));
    std::vector<std::pair<std::uint32_t, const Migration*>> path;
    for (std::uint32_t v = current_; v != from; v = came_from[v].first)
        path.emplace_back(v, came_from[v].second);
    Term payload = envelope->payload;
    std::uint32_t at = from;
    for (auto it = path.rbegin(); it != path.rend(); ++it) {
        auto next = (*it->second)(payload);
        if (!next) {
            EnvelopeError e = std::move(next).error();
            e.detail = tag_ + " " + std::to_string(at) + " -> " + std::to_string(it->first) + ": " +
                       e.detail;
            return unexpected(std::move(e));
        }
        payload = std::move(*next);
        at = it->first;
    }
    return payload;
}

}  // namespace distribute
