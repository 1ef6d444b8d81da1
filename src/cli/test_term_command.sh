#!/bin/sh
# The contract of `distribute term` as a program: bytes in and out, exit status, error messages.
# (Round trips of BEAM-made terms through the command are in interop/test_cli_term.cpp.)
#   test_term_command.sh PATH_TO_DISTRIBUTE
. "$(dirname "$0")/check_lib.sh"

# term ARGS...: runs the command on $work/in; stdout in $work/out, stderr in $work/err.
term() {
    "$distribute" term "$@" <"$work/in" >"$work/out" 2>"$work/err"
    echo $? >"$work/status"
}
out_is() { [ "$(od -An -tx1 "$work/out" | tr -d ' \n')" = "$1" ]; }

# <<97,0,98>>: a NUL in the middle must not cut the input short.
printf '\203m\000\000\000\003a\000b' >"$work/in"
term --from etf --to text
check "an ETF binary with a NUL byte prints as Erlang text ending in a newline" \
    out_is 3c3c39372c302c39383e3e0a
term --from etf --to etf
check "ETF to ETF gives the same bytes for a term already in current form" \
    out_is 836d00000003610062
"$distribute" term --from etf --to text "$work/in" >"$work/out" 2>"$work/err"
check "a FILE argument is read like stdin" out_is 3c3c39372c302c39383e3e0a

printf '{ok, [1, 2]}.\n' >"$work/in"
term --from text --to etf
check "text with a final dot becomes ETF" out_is 83680277026f6b6b00020102
term --from text --to etf --compressed=0
check "a compressed form that is not smaller is not used" out_is 83680277026f6b6b00020102

printf '<<"%0200d">>' 0 >"$work/in"
term --from text --to etf --compressed
check "--compressed alone writes a zlib-compressed term (tag 80)" \
    sh -c "od -An -tx1 -N2 '$work/out' | grep -q '83 50'"

printf '\203h\002d' >"$work/in"
term --from etf --to text
check "truncated ETF exits 1 and names the byte offset" \
    sh -c "[ \$(cat '$work/status') = 1 ] && grep -q 'at byte' '$work/err'"
check "nothing is written to stdout on a decode error" out_is ""

printf '{a,\n  b c}' >"$work/in"
term --from text --to etf
check "a text syntax error exits 1 and names line and column" \
    sh -c "[ \$(cat '$work/status') = 1 ] && grep -q 'line 2, column 5' '$work/err'"

printf '1' >"$work/in"
term --from text --to text --compressed
check "--compressed with text output is refused" status_is 1
term --from text --to etf --compressed=10
check "a compression level outside 0..9 is refused" err_has "0..9"
term --from yaml --to etf
check "an unknown format is refused" err_has "yaml"
check "an unknown format is a command line error (exit status 2)" status_is 2

head -c 10000000 /dev/zero | tr '\0' '[' >"$work/in"
term --from text --to etf
check "ten million '[' are refused at the nesting bound (exit 1, the column of the first too many)" \
    sh -c "[ \$(cat '$work/status') = 1 ] && grep -q 'column 2097153: containers nested more than 2097152 deep' '$work/err'"
"$distribute" term --from text --to etf "$work/missing" >/dev/null 2>"$work/err"
check "a missing input file is reported with its name" err_has "missing: No such file"

[ "$failures" -eq 0 ]
