// The text of a node key file and of a pinned peer keys file, parsed apart from the files: the
// readers in node_keys.cpp do the I/O and the node key file's permissions, these the content.
// `path` only names the file in error details.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "distribute/crypto.hpp"

namespace distribute::crypto {

// "secret HEX" (required) and "public HEX" (checked against the secret when present), words
// separated by blanks, '#' starting a comment to the end of its line.
Expected<NodeKey, CryptoError> parse_node_key(std::string_view text, const std::string& path);

// One "name@host HEX" line per peer; '#' starts a comment, blank lines are skipped. A name that
// is not alive@host ("@host", "cpp@", "a@b@c") is refused with its line: it could never match.
Expected<std::map<std::string, PublicKey>, CryptoError> parse_peer_keys(std::string_view text,
                                                                        const std::string& path);

}  // namespace distribute::crypto
