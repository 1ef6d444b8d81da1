#include "corpus.hpp"

#include <cstring>
#include <memory>

namespace distribute::bench {
namespace {

constexpr const char* node_name = "bench@localhost";

Atom atom(std::string_view name) {
    return Atom::make(name).value();
}

erlang_pid ei_pid() {
    erlang_pid pid{};
    std::strcpy(pid.node, node_name);
    pid.num = 85;
    pid.serial = 0;
    pid.creation = 1;
    return pid;
}

erlang_ref ei_ref() {
    erlang_ref ref{};
    std::strcpy(ref.node, node_name);
    ref.len = 3;
    ref.n[0] = 101;
    ref.n[1] = 202;
    ref.n[2] = 303;
    ref.creation = 1;
    return ref;
}

Term our_pid() {
    return Term(Pid{atom(node_name), 85, 0, 1});
}
Term our_ref() {
    return Term(Reference{atom(node_name), 1, 3, {101, 202, 303, 0, 0}});
}

std::vector<std::uint8_t> pattern(std::size_t size) {
    std::vector<std::uint8_t> bytes(size);
    for (std::size_t i = 0; i < size; ++i)
        bytes[i] = static_cast<std::uint8_t>(i * 31 + 7);
    return bytes;
}

Row binary_row(std::string name, std::size_t size) {
    auto data = std::make_shared<std::vector<std::uint8_t>>(pattern(size));
    return {std::move(name), binary(*data), [data](ei_x_buff* x) {
                ei_x_encode_binary(x, data->data(), static_cast<int>(data->size()));
            }};
}

Row int_list_row() {
    std::vector<Term> items;
    for (int i = 1; i <= 1000; ++i)
        items.emplace_back(i);
    return {"list of 1000 integers", list_from(items), [](ei_x_buff* x) {
                ei_x_encode_list_header(x, 1000);
                for (long i = 1; i <= 1000; ++i)
                    ei_x_encode_long(x, i);
                ei_x_encode_empty_list(x);
            }};
}

Row map_row() {
    std::vector<MapEntry> entries;
    for (int i = 1; i <= 100; ++i)
        entries.push_back({Term(atom("key" + std::to_string(i))), Term(i * 1000)});
    Term term = map_from(entries);
    // erl_interface writes keys in the order it is given: ours (term order) for the same bytes.
    auto keys = std::make_shared<std::vector<std::pair<std::string, long>>>();
    for (const auto& entry : term.entries())
        keys->emplace_back(std::string(entry.key.to<Atom>()->name()), *entry.value.to<long>());
    return {"map of 100 atom keys", term, [keys](ei_x_buff* x) {
                ei_x_encode_map_header(x, static_cast<long>(keys->size()));
                for (const auto& [key, value] : *keys) {
                    ei_x_encode_atom(x, key.c_str());
                    ei_x_encode_long(x, value);
                }
            }};
}

struct Person {
    std::string name;
    long age;
    std::string email;
};

Row records_row() {
    auto people = std::make_shared<std::vector<Person>>();
    std::vector<Term> items;
    const Atom person = atom("person");
    for (int i = 1; i <= 10000; ++i) {
        Person p{"Person " + std::to_string(i), i % 100,
                 "person" + std::to_string(i) + "@example.com"};
        items.push_back(tuple(person, binary(p.name), p.age, binary(p.email)));
        people->push_back(std::move(p));
    }
    return {"10,000 records", list_from(items), [people](ei_x_buff* x) {
                ei_x_encode_list_header(x, static_cast<long>(people->size()));
                for (const auto& p : *people) {
                    ei_x_encode_tuple_header(x, 4);
                    ei_x_encode_atom(x, "person");
                    ei_x_encode_binary(x, p.name.data(), static_cast<int>(p.name.size()));
                    ei_x_encode_long(x, p.age);
                    ei_x_encode_binary(x, p.email.data(), static_cast<int>(p.email.size()));
                }
                ei_x_encode_empty_list(x);
            }};
}

// 64 integers of 2^64 to 2^1072, half of them negative: magnitudes as erl_interface's 16-bit
// digits.
Row bignum_row() {
    struct Big {
        bool negative;
        unsigned bytes;
        std::vector<unsigned short> digits;
    };
    auto bigs = std::make_shared<std::vector<Big>>();
    std::vector<Term> items;
    for (int i = 0; i < 64; ++i) {
        std::vector<std::uint8_t> magnitude(9 + 2 * static_cast<std::size_t>(i), 0x5a);
        magnitude.back() = 1;
        const bool negative = i % 2 == 1;
        items.emplace_back(BigInt(negative, magnitude));
        std::vector<unsigned short> digits((magnitude.size() + 1) / 2, 0);
        std::memcpy(digits.data(), magnitude.data(), magnitude.size());  // little-endian host
        bigs->push_back({negative, static_cast<unsigned>(magnitude.size()), std::move(digits)});
    }
    return {"64 bignums", list_from(items), [bigs](ei_x_buff* x) {
                ei_x_encode_list_header(x, static_cast<long>(bigs->size()));
                for (auto& b : *bigs) {
                    erlang_big big{b.bytes, b.negative ? 1 : 0, b.digits.data()};
                    ei_x_encode_big(x, &big);
                }
                ei_x_encode_empty_list(x);
            }};
}

// {1000, {999, ... {1, ok}}}
Row deep_row() {
    Term term = Term(atoms::ok);
    for (int i = 1; i <= 1000; ++i)
        term = tuple(i, term);
    return {"1000-deep nested tuples", term, [](ei_x_buff* x) {
                for (long i = 1000; i >= 1; --i) {
                    ei_x_encode_tuple_header(x, 2);
                    ei_x_encode_long(x, i);
                }
                ei_x_encode_atom(x, "ok");
            }};
}

// [{ok, error, undefined, name_K} || I <- 1..1000], K = I rem 100
Row atoms_row() {
    auto names = std::make_shared<std::vector<std::string>>();
    std::vector<Term> items;
    for (int i = 1; i <= 1000; ++i) {
        names->push_back("name_" + std::to_string(i % 100));
        items.push_back(tuple(atoms::ok, atoms::error, atoms::undefined, atom(names->back())));
    }
    return {"1000 tuples of 4 atoms", list_from(items), [names](ei_x_buff* x) {
                ei_x_encode_list_header(x, static_cast<long>(names->size()));
                for (const auto& name : *names) {
                    ei_x_encode_tuple_header(x, 4);
                    ei_x_encode_atom(x, "ok");
                    ei_x_encode_atom(x, "error");
                    ei_x_encode_atom(x, "undefined");
                    ei_x_encode_atom(x, name.c_str());
                }
                ei_x_encode_empty_list(x);
            }};
}

}  // namespace

std::vector<Row> make_corpus() {
    std::vector<Row> rows;
    rows.push_back({"control {2, '', Pid}", tuple(2, atoms::empty, our_pid()), [](ei_x_buff* x) {
                        const erlang_pid pid = ei_pid();
                        ei_x_encode_tuple_header(x, 3);
                        ei_x_encode_long(x, 2);
                        ei_x_encode_atom(x, "");
                        ei_x_encode_pid(x, &pid);
                    }});
    rows.push_back({"control {6, Pid, '', Ref}", tuple(6, our_pid(), atoms::empty, our_ref()),
                    [](ei_x_buff* x) {
                        const erlang_pid pid = ei_pid();
                        const erlang_ref ref = ei_ref();
                        ei_x_encode_tuple_header(x, 4);
                        ei_x_encode_long(x, 6);
                        ei_x_encode_pid(x, &pid);
                        ei_x_encode_atom(x, "");
                        ei_x_encode_ref(x, &ref);
                    }});
    rows.push_back(binary_row("1 KB binary", 1024));
    rows.push_back(binary_row("64 KB binary", 65536));
    rows.push_back(int_list_row());
    rows.push_back(map_row());
    rows.push_back(records_row());
    rows.push_back(bignum_row());
    rows.push_back(deep_row());
    rows.push_back(atoms_row());
    return rows;
}

}  // namespace distribute::bench
