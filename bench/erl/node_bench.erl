%% The BEAM side of the node benchmark: a sink and an echo like the demo node's, a sender that
%% times a burst of messages into any sink, a ping-pong timer for round trips, and the latency
%% probe's pieces (each round trip timed, a sender of large binaries that goes until stopped).
-module(node_bench).
-export([start_services/0, burst/3, round_trips/3, payload/1, calls/4, rpcs/5, latencies/4,
         start_load/2, stop_load/1]).

%% Registers sink and echo on this node.
start_services() ->
    Parent = self(),
    Sink = spawn(fun() -> register(sink, self()), Parent ! ready, sink() end),
    receive ready -> ok end,
    Echo = spawn(fun() -> register(echo, self()), Parent ! ready, echo() end),
    receive ready -> ok end,
    {Sink, Echo}.

sink() ->
    receive
        {start, From, N} -> count(From, N);
        _ -> sink()
    end.

count(From, 0) ->
    From ! done,
    sink();
count(From, N) ->
    receive _ -> count(From, N - 1) end.

echo() ->
    receive
        {From, Msg} -> From ! Msg, echo();
        _ -> echo()
    end.

payload(small) -> {hello, 42, 3.5, [1, 2]};
payload({binary, Bytes}) -> binary:copy(<<7>>, Bytes).

%% Sends N copies of the payload to Target (a pid or {Name, Node}) after {start, self(), N} and
%% waits for done. Returns the elapsed microseconds.
burst(Target, Kind, N) ->
    Msg = payload(Kind),
    Target ! {start, self(), N},
    T0 = erlang:monotonic_time(microsecond),
    send_n(Target, Msg, N),
    receive
        done -> erlang:monotonic_time(microsecond) - T0
    after 300000 -> timeout
    end.

send_n(_, _, 0) -> ok;
send_n(Target, Msg, N) ->
    Target ! Msg,
    send_n(Target, Msg, N - 1).

%% N sequential round trips through an echo; returns the elapsed microseconds.
round_trips(Target, Kind, N) ->
    Msg = payload(Kind),
    T0 = erlang:monotonic_time(microsecond),
    ok = ping_pong(Target, Msg, N),
    erlang:monotonic_time(microsecond) - T0.

ping_pong(_, _, 0) -> ok;
ping_pong(Target, Msg, N) ->
    Target ! {self(), Msg},
    receive Msg -> ping_pong(Target, Msg, N - 1)
    after 30000 -> timeout
    end.

%% N round trips through an echo, IntervalMs apart (so that they sample a large message's whole
%% time on the wire); the microseconds of each, in order.
latencies(Target, Kind, N, IntervalMs) ->
    Msg = payload(Kind),
    [begin
         timer:sleep(IntervalMs),
         T0 = erlang:monotonic_time(microsecond),
         Target ! {self(), Msg},
         receive Msg -> erlang:monotonic_time(microsecond) - T0
         after 30000 -> exit(no_echo)
         end
     end || _ <- lists:seq(1, N)].

%% A process that sends binaries of Bytes to Target, one after another, until stop_load/1: the
%% large messages a latency probe runs beside. Each send returns once its last fragment is queued
%% (the process is suspended while the connection is busy), so one is always on its way.
start_load(Target, Bytes) ->
    Big = binary:copy(<<7>>, Bytes),
    spawn(fun() -> load(Target, Big, 0) end).

load(Target, Big, Sent) ->
    receive
        {stop, From} -> From ! {stopped, Sent}
    after 0 ->
        Target ! Big,
        load(Target, Big, Sent + 1)
    end.

%% Stops a sender of start_load/2; how many binaries it sent.
stop_load(Pid) ->
    Pid ! {stop, self()},
    receive {stopped, Sent} -> Sent after 600000 -> timeout end.

%% Callers processes together make N gen_server calls of Request to Server; returns the elapsed
%% microseconds.
calls(Server, Request, N, Callers) ->
    in_parallel(fun() -> gen_server:call(Server, Request) end, N, Callers).

%% The same with erpc:call(Node, M, F, A).
rpcs(Node, M, F, A, {N, Callers}) ->
    in_parallel(fun() -> erpc:call(Node, M, F, A) end, N, Callers).

in_parallel(Op, N, Callers) ->
    Self = self(),
    Each = N div Callers,
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> repeat(Op, Each), Self ! {done, self()} end)
            || _ <- lists:seq(1, Callers)],
    [receive {done, P} -> ok end || P <- Pids],
    erlang:monotonic_time(microsecond) - T0.

repeat(_, 0) -> ok;
repeat(Op, N) ->
    Op(),
    repeat(Op, N - 1).
