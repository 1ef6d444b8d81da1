%% Runs OTP's etop in text mode against a node and returns what it printed, for the
%% introspection interop tests: etop's output process writes to its group leader, which here is
%% a process that keeps the text instead of printing it.
-module(etop_capture).
-export([run/2]).

%% The text of etop's first refresh of Node (it ends with a line of '='), or
%% {no_output, TextSoFar} when none came within TimeoutMs.
run(Node, TimeoutMs) ->
    Io = spawn(fun() -> keep([]) end),
    Etop = spawn(fun() ->
                         group_leader(Io, self()),
                         etop:start([{node, Node}, {output, text}, {interval, 1},
                                     {lines, 100}, {tracing, off}, {sort, memory}])
                 end),
    Text = wait_for_refresh(Io, erlang:monotonic_time(millisecond) + TimeoutMs),
    etop:stop(),
    exit(Etop, kill),
    exit(Io, kill),
    Text.

wait_for_refresh(Io, Deadline) ->
    Io ! {text, self()},
    Text = receive {text, Io, T} -> T end,
    %% A refresh: a double line, the header, the processes, and a closing double line.
    case length(string:split(Text, "\n=", all)) >= 3 of
        true -> Text;
        false ->
            case erlang:monotonic_time(millisecond) > Deadline of
                true -> {no_output, Text};
                false -> timer:sleep(100), wait_for_refresh(Io, Deadline)
            end
    end.

keep(Acc) ->
    receive
        {io_request, From, ReplyAs, Request} ->
            {Reply, More} = request(Request),
            From ! {io_reply, ReplyAs, Reply},
            keep([More | Acc]);
        {text, To} ->
            To ! {text, self(), lists:flatten(lists:reverse(Acc))},
            keep(Acc)
    end.

request({put_chars, _Encoding, Chars}) -> {ok, unicode:characters_to_list(Chars)};
request({put_chars, _Encoding, M, F, A}) -> request({put_chars, unicode, apply(M, F, A)});
request({put_chars, Chars}) -> request({put_chars, unicode, Chars});
request({requests, Requests}) ->
    Texts = [Text || {_, Text} <- [request(R) || R <- Requests]],
    {ok, Texts};
request(getopts) -> {[], []};
request({get_geometry, _}) -> {{error, enotsup}, []};
request(_) -> {{error, request}, []}.
