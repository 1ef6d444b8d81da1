// What decoding may intern: the atoms that input names, within safe mode and the source's budget.
#include <string>

#include "distribute/etf.hpp"
#include "term/utf8.hpp"

namespace distribute::etf {

bool AtomBudget::take() noexcept {
    std::size_t left = left_.load(std::memory_order_relaxed);
    while (left > 0)
        if (left_.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return true;
    return false;
}

Expected<Atom, DecodeError> atom_from_input(std::string_view utf8, const DecodeOptions& options) {
    const auto error = [](DecodeErrc code, std::string detail) {
        return unexpected(DecodeError{code, 0, std::move(detail)});
    };
    const auto shown = [&] { return "'" + std::string(utf8.substr(0, 64)) + "'"; };
    if (options.safe || options.atom_budget != nullptr) {
        if (auto existing = Atom::existing(utf8)) return *existing;
        if (!utf8::count_code_points(utf8))
            return error(DecodeErrc::bad_atom, "atom is not valid UTF-8");
        if (options.safe)
            return error(DecodeErrc::unknown_atom, "safe mode refuses new atom " + shown());
        if (!options.atom_budget->take())
            return error(
                DecodeErrc::too_many_atoms,
                "new atom " + shown() + ": the budget of new atoms from this source is spent");
    }
    auto made = Atom::make(utf8);
    if (made) return *made;
    switch (made.error()) {
        case AtomErrc::table_full:
            return error(DecodeErrc::atom_table_full, "the atom table is full");
        case AtomErrc::too_long:
            return error(DecodeErrc::bad_atom, "atom longer than 255 characters");
        default:
            return error(DecodeErrc::bad_atom, "atom is not valid UTF-8");
    }
}

}  // namespace distribute::etf
