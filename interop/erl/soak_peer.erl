%% The BEAM side of the chaos soak (interop/soak/): processes that exchange sequence-numbered
%% messages with the C++ workers of one node of ours and check what they receive.
%%
%% Each process sends {soak_seq, self(), Seq} to every worker it knows (Seq counts from 1 per
%% worker), asks for workers with {soak_hello, self()} sent to their registered names until one
%% answers {soak_welcome, Id, Pid}, and monitors each worker it knows. What it receives from worker
%% Id ({soak_seq, Id, Seq}) must rise by exactly one, except across a nodedown of the C++ node:
%% Erlang promises no delivery across a lost connection, only order and no duplicates. Every
%% violation is appended to the log file as one line, so that one found by a node killed later is
%% still read.
-module(soak_peer).
-export([start/4, finish/0, totals/0]).

-define(SEND_EVERY_MS, 10).
-define(HELLO_EVERY_MS, 300).
-define(NODEDOWN_GRACE_MS, 2000).

%% Starts Count processes, registered soak_peer_1..Count, for the workers registered as Names on
%% CxxNode.
start(CxxNode, Names, Count, Log) ->
    [begin
         Parent = self(),
         Pid = spawn(fun() -> init(CxxNode, Names, Log, Parent) end),
         register(name(I), Pid),
         receive {started, Pid} -> ok end
     end || I <- lists:seq(1, Count)],
    ok.

%% Stops sending, and tells each worker the last number sent to it ({soak_final, self(), Last}).
finish() ->
    [call(P, finish) || P <- local()],
    ok.

%% [{Received, Sent, Violations, FinalsChecked, WorkersKnown}] of the local processes.
totals() ->
    [call(P, totals) || P <- local()].

name(I) -> list_to_atom("soak_peer_" ++ integer_to_list(I)).

local() ->
    [P || N <- registered(), lists:prefix("soak_peer_", atom_to_list(N)),
          P <- [whereis(N)], is_pid(P)].

call(Pid, Request) ->
    Ref = monitor(process, Pid),
    Pid ! {Request, self(), Ref},
    receive
        {Ref, Reply} -> demonitor(Ref, [flush]), Reply;
        {'DOWN', Ref, _, _, Reason} -> exit({soak_peer_down, Reason})
    after 15000 -> exit(soak_peer_timeout)
    end.

init(CxxNode, Names, Log, Parent) ->
    process_flag(trap_exit, true),
    ok = net_kernel:monitor_nodes(true),
    Parent ! {started, self()},
    erlang:send_after(?SEND_EVERY_MS, self(), send_tick),
    self() ! hello_tick,
    loop(#{cxx => CxxNode, names => Names, log => Log, sending => true,
           known => #{},      % worker name => pid, while its monitor is active
           monitors => #{},   % monitor ref => worker pid
           next => #{},       % worker pid => next number to send it
           rx => #{},         % worker id => {last number received, nodedowns then}
           downs => 0,        % nodedowns of CxxNode seen
           received => 0, sent => 0, violations => 0, finals => 0}).

loop(S) ->
    receive Msg -> loop(handle(Msg, S)) end.

handle(send_tick, #{sending := true, known := Known, next := Next, sent := Sent} = S) ->
    Next1 = maps:fold(fun(_, Pid, Acc) ->
                              Seq = maps:get(Pid, Acc, 1),
                              Pid ! {soak_seq, self(), Seq},
                              Acc#{Pid => Seq + 1}
                      end, Next, Known),
    erlang:send_after(?SEND_EVERY_MS, self(), send_tick),
    S#{next := Next1, sent := Sent + map_size(Known)};
handle(send_tick, S) ->
    S;
handle(hello_tick, #{cxx := Cxx, names := Names, known := Known} = S) ->
    [{Name, Cxx} ! {soak_hello, self()} || Name <- Names, not maps:is_key(Name, Known)],
    erlang:send_after(?HELLO_EVERY_MS, self(), hello_tick),
    S;
handle({soak_welcome, Name, Pid}, #{known := Known, monitors := Mons} = S) ->
    case maps:is_key(Name, Known) of
        true -> S;  % an answer to an earlier hello
        false ->
            Ref = monitor(process, Pid),
            S#{known := Known#{Name => Pid}, monitors := Mons#{Ref => Pid}}
    end;
handle({soak_seq, Id, Seq}, #{rx := Rx, received := N} = S) ->
    {Last, DownsThen} = maps:get(Id, Rx, {0, 0}),
    S1 = S#{received := N + 1},
    if
        Seq =< Last ->
            violation(S1, "from ~p: ~p after ~p (duplicate or out of order)", [Id, Seq, Last]);
        Seq =:= Last + 1 ->
            S1#{rx := Rx#{Id => {Seq, downs(S1)}}};
        true ->
            S2 = await_nodedown(S1, DownsThen),
            S3 = case downs(S2) > DownsThen of
                     true -> S2;
                     false -> violation(S2, "from ~p: ~p after ~p with no nodedown between (lost)",
                                        [Id, Seq, Last])
                 end,
            S3#{rx := Rx#{Id => {Seq, downs(S3)}}}
    end;
handle({soak_final, Id, Last}, #{rx := Rx, finals := F} = S) ->
    case maps:get(Id, Rx, {0, 0}) of
        {Last, _} -> S#{finals := F + 1};
        {Got, _} -> violation(S, "from ~p: last ~p received, ~p sent", [Id, Got, Last])
    end;
handle({'DOWN', Ref, process, Pid, Reason}, #{monitors := Mons, known := Known} = S) ->
    case maps:take(Ref, Mons) of
        {Pid, Mons1} ->
            Known1 = maps:filter(fun(_, P) -> P =/= Pid end, Known),
            S1 = S#{monitors := Mons1, known := Known1},
            case Reason of
                noconnection -> S1;
                _ -> violation(S1, "worker ~p down with ~p", [Pid, Reason])
            end;
        error -> violation(S, "a second or unknown DOWN ~p for ~p (~p)", [Ref, Pid, Reason])
    end;
handle({'EXIT', Pid, Reason}, S) ->
    case Reason of
        noconnection -> S;
        _ -> violation(S, "exit signal from ~p: ~p", [Pid, Reason])
    end;
handle({nodedown, Node}, #{cxx := Node, downs := D} = S) ->
    S#{downs := D + 1};
handle({nodedown, _}, S) -> S;
handle({nodeup, _}, S) -> S;
handle({finish, From, Ref}, #{next := Next} = S) ->
    maps:foreach(fun(Pid, Seq) -> Pid ! {soak_final, self(), Seq - 1} end, Next),
    From ! {Ref, ok},
    S#{sending := false};
handle({totals, From, Ref}, S) ->
    #{received := R, sent := Sent, violations := V, finals := F, known := K} = S,
    From ! {Ref, {R, Sent, V, F, map_size(K)}},
    S;
handle(Other, S) ->
    violation(S, "unexpected message ~p", [Other]).

downs(#{downs := D}) -> D.

%% A gap may come just before the nodedown that explains it reaches this process (they travel
%% different ways); wait a little for one.
await_nodedown(#{cxx := Node, downs := D} = S, DownsThen) when D =:= DownsThen ->
    receive {nodedown, Node} -> S#{downs := D + 1}
    after ?NODEDOWN_GRACE_MS -> S
    end;
await_nodedown(S, _) -> S.

violation(#{log := Log, violations := V} = S, Format, Args) ->
    Line = io_lib:format("~p ~p: " ++ Format ++ "~n", [node(), self() | Args]),
    ok = file:write_file(Log, Line, [append]),
    S#{violations := V + 1}.
