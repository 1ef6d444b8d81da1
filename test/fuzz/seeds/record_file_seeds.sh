#!/bin/sh
# Writes the seed corpora of the file targets from files the real tools write:
#   cookie_file/    the cookie erl creates in an empty HOME, and that cookie as `echo` and a
#                   Windows editor leave it (a line end, CRLF), and with trailing spaces
#   key_files/      node keys written by `distribute keygen` (first byte 0: node key file) and a
#                   peer keys file from the lines keygen prints (first byte 1)
#   discovery_file/ a discovery file with comments, blank lines, blanks and a bad line
# Usage: [EPMD_PORT=P] test/fuzz/seeds/record_file_seeds.sh DISTRIBUTE   (the built
#        src/cli/distribute; P a free port for a private epmd, default 14370)
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
corpus=$root/test/fuzz/corpus
distribute=$1
scratch=$(mktemp -d)
# erl -sname needs an EPMD: a private one, so that no epmd -daemon stays on the default port.
port=${EPMD_PORT:-14370}
epmd -port "$port" &
epmd_pid=$!
trap 'kill "$epmd_pid" 2>/dev/null || true; rm -rf "$scratch"' EXIT
sleep 1

mkdir -p "$corpus/cookie_file" "$corpus/key_files" "$corpus/discovery_file"
mkdir "$scratch/home"
HOME=$scratch/home ERL_EPMD_PORT=$port erl -noshell -sname "cookieseed_$$" -eval 'halt().'
cookie=$(cat "$scratch/home/.erlang.cookie")
cp "$scratch/home/.erlang.cookie" "$corpus/cookie_file/erl_created"
chmod 644 "$corpus/cookie_file/erl_created"
printf '%s\n' "$cookie" >"$corpus/cookie_file/line_end"
printf '%s\r\n' "$cookie" >"$corpus/cookie_file/crlf"
printf '%s  \n\n' "$cookie" >"$corpus/cookie_file/trailing_blanks"

peers=$scratch/peers
: >"$peers"
for name in a b; do
    printf '\0' >"$corpus/key_files/node_key_$name"
    "$distribute" keygen "$scratch/$name.key" | sed "s/^NAME@HOST/$name@host/" >>"$peers"
    cat "$scratch/$name.key" >>"$corpus/key_files/node_key_$name"
done
{ printf '\1# pinned peers\n'; cat "$peers"; } >"$corpus/key_files/peer_keys"

printf '# cluster members\nkv@host1\n\n  kv@host2 \t\r\nkv@host1\nnot a node\n' \
    >"$corpus/discovery_file/nodes"
printf 'app@10.0.0.1\napp@app-2.svc.cluster.local\n' >"$corpus/discovery_file/two"
