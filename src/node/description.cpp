// What whoever starts a process tells tools about it (process.hpp, Description).
#include "node/process.hpp"

namespace distribute::node {

void describe(Process& process, Term initial_call, Term current_function) {
    std::lock_guard lock(process.mutex);
    if (!process.description) process.description = std::make_unique<Description>();
    if (!initial_call.is_nil()) process.description->initial_call = std::move(initial_call);
    if (!current_function.is_nil())
        process.description->current_function = std::move(current_function);
}

void put_in_dictionary(Process& process, Term key, Term value) {
    std::lock_guard lock(process.mutex);
    if (!process.description) process.description = std::make_unique<Description>();
    auto& dictionary = process.description->dictionary;
    for (auto& [k, v] : dictionary) {
        if (k == key) {
            v = std::move(value);
            return;
        }
    }
    dictionary.emplace_back(std::move(key), std::move(value));
}

}  // namespace distribute::node
