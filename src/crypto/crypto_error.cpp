// What crypto errors say (include/distribute/crypto.hpp).
#include "distribute/crypto.hpp"

namespace distribute {
namespace {

const char* message_of(CryptoErrc e) noexcept {
    switch (e) {
        case CryptoErrc::bad_mode:
            return "not a crypto mode";
        case CryptoErrc::file_error:
            return "the key file cannot be used";
        case CryptoErrc::exposed_key:
            return "others may read the node key";
        case CryptoErrc::malformed:
            return "the key file is malformed";
        case CryptoErrc::key_mismatch:
            return "the public key does not belong to the secret key";
        case CryptoErrc::bad_hello:
            return "not an encrypted hello this node speaks";
        case CryptoErrc::not_pinned:
            return "the peer's key is not pinned here";
        case CryptoErrc::handshake_failed:
            return "the encrypted handshake failed";
        case CryptoErrc::no_memory:
            return "no memory for the key derivation";
    }
    return nullptr;
}

}  // namespace

const std::error_category& crypto_category() noexcept {
    static const ErrorCategory<CryptoErrc> category("distribute.crypto", message_of);
    return category;
}

std::error_code make_error_code(CryptoErrc e) noexcept {
    return {static_cast<int>(e), crypto_category()};
}

}  // namespace distribute
