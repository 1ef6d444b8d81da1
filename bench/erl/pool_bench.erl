%% The BEAM anchor for the pool benchmark: a pool as poolboy makes one, a gen_server that hands
%% out workers on checkout (a call; callers queue in the server when none is free) and takes
%% them back on checkin (a cast), with the same sizes as ours.
-module(pool_bench).
-behaviour(gen_server).
-export([run/3, init/1, handle_call/3, handle_cast/2]).

%% Microseconds for Clients processes to make Total checkout/checkin pairs in all against a pool
%% of Size workers.
run(Size, Clients, Total) ->
    {ok, Pool} = gen_server:start(?MODULE, Size, []),
    Each = Total div Clients,
    Parent = self(),
    T0 = erlang:monotonic_time(microsecond),
    Pids = [spawn_link(fun() -> loop(Pool, Each), Parent ! {done, self()} end)
            || _ <- lists:seq(1, Clients)],
    [receive {done, P} -> ok end || P <- Pids],
    T1 = erlang:monotonic_time(microsecond),
    gen_server:stop(Pool),
    T1 - T0.

loop(_Pool, 0) -> ok;
loop(Pool, N) ->
    Worker = gen_server:call(Pool, checkout, infinity),
    gen_server:cast(Pool, {checkin, Worker}),
    loop(Pool, N - 1).

init(Size) -> {ok, {lists:seq(1, Size), queue:new()}}.

handle_call(checkout, _From, {[W | Free], Waiting}) -> {reply, W, {Free, Waiting}};
handle_call(checkout, From, {[], Waiting}) -> {noreply, {[], queue:in(From, Waiting)}}.

handle_cast({checkin, W}, {Free, Waiting}) ->
    case queue:out(Waiting) of
        {{value, From}, Rest} -> gen_server:reply(From, W), {noreply, {Free, Rest}};
        {empty, _} -> {noreply, {[W | Free], Waiting}}
    end.
