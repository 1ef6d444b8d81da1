#include "ei_walk.hpp"

#include <ei.h>

#include <vector>

namespace distribute::bench {
namespace {

// Scratch space reused across calls, as a C node reuses its buffers.
struct Scratch {
    std::vector<char> bytes;
    std::vector<unsigned short> digits;
};
thread_local Scratch scratch;

char* bytes(std::size_t size) {
    if (scratch.bytes.size() < size) scratch.bytes.resize(size);
    return scratch.bytes.data();
}

}  // namespace

std::int64_t ei_walk(const char* buf, int* index) {
    int type = 0;
    int size = 0;
    if (ei_get_type(buf, index, &type, &size) < 0) return -1;
    switch (type) {
        case ERL_SMALL_INTEGER_EXT:
        case ERL_INTEGER_EXT: {
            long value = 0;
            return ei_decode_long(buf, index, &value) < 0 ? -1 : value & 0xff;
        }
        case ERL_SMALL_BIG_EXT:
        case ERL_LARGE_BIG_EXT: {
            scratch.digits.resize((static_cast<std::size_t>(size) + 1) / 2);
            erlang_big big{static_cast<unsigned int>(size), 0, scratch.digits.data()};
            return ei_decode_big(buf, index, &big) < 0 ? -1 : big.is_neg + size;
        }
        case ERL_FLOAT_EXT: {
            double value = 0;
            return ei_decode_double(buf, index, &value) < 0 ? -1 : value > 0;
        }
        case ERL_ATOM_EXT: {
            char name[MAXATOMLEN_UTF8];
            return ei_decode_atom(buf, index, name) < 0 ? -1 : name[0];
        }
        case ERL_STRING_EXT: {
            char* text = bytes(static_cast<std::size_t>(size) + 1);
            return ei_decode_string(buf, index, text) < 0 ? -1 : size;
        }
        case ERL_BINARY_EXT: {
            long length = 0;
            char* data = bytes(static_cast<std::size_t>(size));
            return ei_decode_binary(buf, index, data, &length) < 0 ? -1 : length;
        }
        case ERL_BIT_BINARY_EXT: {
            const char* data = nullptr;
            unsigned int offset = 0;
            std::size_t bits = 0;
            return ei_decode_bitstring(buf, index, &data, &offset, &bits) < 0
                       ? -1
                       : static_cast<std::int64_t>(bits);
        }
        case ERL_PID_EXT: {
            erlang_pid pid;
            return ei_decode_pid(buf, index, &pid) < 0 ? -1 : pid.num;
        }
        case ERL_PORT_EXT: {
            erlang_port port;
            return ei_decode_port(buf, index, &port) < 0 ? -1 : port.creation;
        }
        case ERL_NEW_REFERENCE_EXT: {
            erlang_ref ref;
            return ei_decode_ref(buf, index, &ref) < 0 ? -1 : ref.n[0];
        }
        case ERL_SMALL_TUPLE_EXT:
        case ERL_LARGE_TUPLE_EXT: {
            int arity = 0;
            if (ei_decode_tuple_header(buf, index, &arity) < 0) return -1;
            std::int64_t sum = arity;
            for (int i = 0; i < arity; ++i) {
                const auto part = ei_walk(buf, index);
                if (part < 0) return -1;
                sum += part;
            }
            return sum;
        }
        case ERL_NIL_EXT:
        case ERL_LIST_EXT: {
            int arity = 0;
            if (ei_decode_list_header(buf, index, &arity) < 0) return -1;
            if (arity == 0) return 0;
            std::int64_t sum = arity;
            for (int i = 0; i <= arity; ++i) {  // the elements, then the tail
                const auto part = ei_walk(buf, index);
                if (part < 0) return -1;
                sum += part;
            }
            return sum;
        }
        case ERL_MAP_EXT: {
            int arity = 0;
            if (ei_decode_map_header(buf, index, &arity) < 0) return -1;
            std::int64_t sum = arity;
            for (int i = 0; i < 2 * arity; ++i) {
                const auto part = ei_walk(buf, index);
                if (part < 0) return -1;
                sum += part;
            }
            return sum;
        }
        default:
            return ei_skip_term(buf, index) < 0 ? -1 : 1;
    }
}

}  // namespace distribute::bench
