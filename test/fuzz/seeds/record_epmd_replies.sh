#!/bin/sh
# Records the replies a real OTP epmd sends to a client into test/fuzz/corpus/epmd_reply/, the
# seed corpus of fuzz_epmd_reply: ALIVE2_X_RESP and ALIVE2_RESP (accepted and refused),
# PORT2_RESP for a registered node and for an unknown name, and NAMES with one and three nodes
# and with a name holding a space.
# Usage: test/fuzz/seeds/record_epmd_replies.sh [PORT]   (a free port; default 14369)
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=$root/test/fuzz/corpus/epmd_reply
port=${1:-14369}
mkdir -p "$out"
epmd -port "$port" &
epmd_pid=$!
trap 'kill "$epmd_pid" 2>/dev/null || true' EXIT
sleep 0.5
ERL_EPMD_PORT=$port erl -noshell -sname "fuzzseed_$$" -eval '
    [Port, Out] = [list_to_integer(hd(init:get_plain_arguments())), lists:last(init:get_plain_arguments())],
    Ask = fun(Req, Keep) ->
        {ok, S} = gen_tcp:connect("localhost", Port, [binary, {active, false}]),
        ok = gen_tcp:send(S, <<(byte_size(Req)):16, Req/binary>>),
        Reply = case Keep of
            true -> {ok, B} = gen_tcp:recv(S, 0, 5000), B;
            false -> Read = fun R(Acc) -> case gen_tcp:recv(S, 0, 5000) of
                                              {ok, B} -> R(<<Acc/binary, B/binary>>);
                                              {error, closed} -> Acc end end,
                     Read(<<>>)
        end,
        {S, Reply} end,
    Save = fun(Name, Bytes) -> ok = file:write_file(filename:join(Out, Name), Bytes) end,
    Alive = fun(Name, Highest) ->
        <<120, 9999:16, 77, 0, Highest:16, 5:16, (byte_size(Name)):16, Name/binary, 0:16>> end,
    {S1, X} = Ask(Alive(<<"seedsix">>, 6), true), Save("alive2_x_resp", X),
    {S2, Y} = Ask(Alive(<<"seedfive">>, 5), true), Save("alive2_resp", Y),
    {_, Taken} = Ask(Alive(<<"seedsix">>, 6), true), Save("alive2_x_resp_refused", Taken),
    {_, Found} = Ask(<<122, "seedsix">>, false), Save("port2_resp", Found),
    {_, Missing} = Ask(<<122, "nobody">>, false), Save("port2_resp_unknown", Missing),
    {_, Names3} = Ask(<<110>>, false), Save("names_three", Names3),
    gen_tcp:close(S1), gen_tcp:close(S2), timer:sleep(200),
    {_, Names1} = Ask(<<110>>, false), Save("names_one", Names1),
    %% epmd lists a name holding a space; erl_epmd (net_adm:names) skips that line.
    {S3, _} = Ask(Alive(<<"seed space">>, 6), true),
    {_, Spaced} = Ask(<<110>>, false), Save("names_space", Spaced),
    gen_tcp:close(S3),
    halt().' -extra "$port" "$out"
ls -l "$out"
