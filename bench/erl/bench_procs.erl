%% The BEAM side of the process benchmark: spawn and exit, idle processes and their memory, and a
%% nodedown among many processes. Every function returns what it measured.
-module(bench_procs).
-export([spawn_exit/1, idle/1, waiters/1, nodedown/3]).

%% N processes that run and end at once; microseconds until the last of them has ended.
spawn_exit(N) ->
    Base = erlang:system_info(process_count),
    T0 = erlang:monotonic_time(microsecond),
    spawn_n(N),
    wait_count(Base),
    erlang:monotonic_time(microsecond) - T0.

spawn_n(0) -> ok;
spawn_n(N) ->
    spawn(fun() -> ok end),
    spawn_n(N - 1).

wait_count(Base) ->
    case erlang:system_info(process_count) =< Base of
        true -> ok;
        false -> erlang:yield(), wait_count(Base)
    end.

%% N processes waiting in a receive: {SpawnMicros, ProcessesBytes, ExitMicros}, where
%% ProcessesBytes is what erlang:memory(processes) grew by. The caller reads the OS's view (RSS)
%% between the two steps: `idle` pauses after spawning until it gets `measured`.
idle(N) ->
    Caller = self(),
    spawn(fun() -> idle_run(Caller, N) end),
    receive {spawned, Runner, Micros, Bytes} -> {Runner, Micros, Bytes} end.

idle_run(Caller, N) ->
    Base = erlang:system_info(process_count),
    M0 = erlang:memory(processes),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, N)],
    T1 = erlang:monotonic_time(microsecond),
    M1 = erlang:memory(processes),
    Caller ! {spawned, self(), T1 - T0, M1 - M0},
    receive {measured, From} -> ok end,
    T2 = erlang:monotonic_time(microsecond),
    [P ! stop || P <- Pids],
    wait_count(Base + 1),
    From ! {ended, erlang:monotonic_time(microsecond) - T2}.

%% N processes that wait for ever, for another node to link to.
waiters(N) ->
    [spawn(fun() -> receive never -> ok end end) || _ <- lists:seq(1, N)].

%% Idle processes here, Linked of them trapping exits and linked to processes on Peer; then
%% Peer is disconnected: microseconds until every linked one has its 'EXIT'.
nodedown(Peer, Idle, Linked) ->
    Self = self(),
    Base = erlang:system_info(process_count),
    Sleepers = [spawn(fun() -> receive stop -> ok end end) || _ <- lists:seq(1, Idle)],
    Remote = rpc:call(Peer, ?MODULE, waiters, [Linked]),
    Watchers = [spawn(fun() -> watch(Self, R) end) || R <- Remote],
    [receive {linked, W} -> ok end || W <- Watchers],
    T0 = erlang:monotonic_time(microsecond),
    true = erlang:disconnect_node(Peer),
    [receive {exited, W, noconnection} -> ok end || W <- Watchers],
    Micros = erlang:monotonic_time(microsecond) - T0,
    [P ! stop || P <- Sleepers],
    wait_count(Base),
    Micros.

watch(Collector, Remote) ->
    process_flag(trap_exit, true),
    link(Remote),
    Collector ! {linked, self()},
    receive {'EXIT', Remote, Reason} -> Collector ! {exited, self(), Reason} end.
