// libFuzzer target for the encrypted transport: what a peer (or someone on the path) sends before
// and after the handshake. The input goes to a responder's hello (with and without pinned keys)
// (either cipher) and to the record layer under each cipher, in one go and in small pieces. No
// input may crash, read out of bounds, complete a handshake without the pre-shared key, or open a
// record it did not seal (the input cannot know the key).
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "crypto/hello.hpp"
#include "crypto/records.hpp"

namespace {

using namespace distribute::crypto;

Key fixed_key(std::uint8_t seed) {
    Key k{};
    for (std::size_t i = 0; i < k.size(); ++i)
        k[i] = static_cast<std::uint8_t>(seed + i * 13);
    return k;
}

void hello(std::span<const std::uint8_t> input, bool pinned) {
    ResponderPolicy policy{
        fixed_key(1), KeyPair::from_secret(fixed_key(2)), nullptr, {}, aesgcm_available()};
    if (pinned) policy.is_pinned = [](const Key& k) { return k[0] == 0x42; };
    ResponderHello responder(std::move(policy));
    if (input.size() < hello_prefix_bytes) return;
    auto rest = responder.rest_bytes(input.first(hello_prefix_bytes));
    if (!rest) return;
    const auto after = input.subspan(hello_prefix_bytes);
    auto answer = responder.answer(after.first(std::min(after.size(), *rest)));
    // Without the psk, message 1 cannot authenticate.
    if (answer) __builtin_trap();
}

void records(std::span<const std::uint8_t> input, std::size_t piece, Cipher cipher) {
    RecordOpener opener{CipherState(cipher, fixed_key(3))};
    // Room for any record's data, as the transport's own buffer has.
    std::vector<std::uint8_t> out(max_record_data + 1);
    std::size_t begin = 0, end = 0, produced = 0;
    while (end < input.size()) {
        end = std::min(input.size(), end + piece);
        auto opened = opener.open(input.subspan(begin, end - begin), out);
        if (opened.failed) return;
        begin += opened.used;
        produced += opened.produced;
    }
    // Nothing forged opens.
    if (produced != 0 || opener.records() != 0) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    hello(input, false);
    hello(input, true);
    for (const Cipher cipher : {Cipher::ChaChaPoly, Cipher::AESGCM}) {
        if (cipher == Cipher::AESGCM && !aesgcm_available()) continue;
        records(input, size ? size : 1, cipher);
        records(input, 3, cipher);
    }
    return 0;
}
