#!/bin/sh
# The contract of `distribute` as a program, where no node is needed: --help of every command
# (what it does, an example, the exit statuses), and exit status 2 for every command line error.
# (Connection failures and their statuses are in interop/test_cli_client.cpp, against erl.)
#   test_cli_command.sh PATH_TO_DISTRIBUTE
. "$(dirname "$0")/check_lib.sh"

# cli ARGS...: runs the command; stdout in $work/out, stderr in $work/err, status in $work/status.
cli() {
    "$distribute" "$@" >"$work/out" 2>"$work/err" </dev/null
    echo $? >"$work/status"
}
out_has() { grep -q -- "$1" "$work/out"; }

for command in term epmd names node ping send call rpc; do
    cli "$command" --help
    check "$command --help exits 0" status_is 0
    check "$command --help shows an example of itself" out_has "^  distribute $command "
    check "$command --help lists the exit statuses" out_has "Exit status"
done

cli node --help
for word in echo sink kv demo --listen --port --cookie-file inet_dist_use_interface \
    inet_dist_listen_min --epmdless-port erl_epmd_port; do
    check "node --help tells of $word" out_has "$word"
done

cli --help
check "--help exits 0" status_is 0
check "--help lists exit status 3 (no EPMD)" out_has "3  no EPMD"
check "--help lists exit status 4 (not registered)" out_has "4  the target's name is not registered"
check "--help lists exit status 5 (wrong cookie)" out_has "5  the target refused the handshake"
check "--help lists exit status 6 (unreachable)" out_has "6  the target is unreachable"
cli --version
check "--version exits 0" status_is 0

cli bogus
check "an unknown command exits 2" status_is 2
check "an unknown command is named, with the commands there are" \
    err_has "'bogus' is not a command; the commands are term, epmd, names, node, ping"
cli
check "no command exits 2" status_is 2
cli ping
check "a missing argument exits 2" status_is 2
cli ping a@b --nonsense
check "an unknown option exits 2" status_is 2
cli names --timeout soon
check "an option value of the wrong type exits 2" status_is 2
cli ping not-a-node-name
check "a target that is not name@host exits 2" status_is 2
cli ping a@b --sname x --name y
check "--sname and --name together exit 2" status_is 2
cli ping a@b --cookie c --cookie-file f
check "--cookie and --cookie-file together exit 2" status_is 2
cli node --sname x --cookie c --port 9-8
check "a port range with MIN above MAX exits 2" status_is 2
cli node --sname x --cookie c --port 70000
check "a port above 65535 exits 2" status_is 2
cli node --sname x --cookie c --epmdless-port 70000
check "an EPMD-less port above 65535 exits 2" status_is 2
cli ping a@b --epmdless-port 0
check "a client's EPMD-less port 0 exits 2" status_is 2

[ "$failures" -eq 0 ]
