%% A gen_server for C++ to call: it counts, echoes, sleeps when asked (for timeouts and late
%% replies) and stops when asked (for a server that exits during a call).
-module(rpc_peer_server).
-behaviour(gen_server).
-export([start/1, init/1, handle_call/3, handle_cast/2]).

%% Registered as Name, unlinked from the caller so that it outlives the eval that started it.
start(Name) ->
    {ok, Pid} = gen_server:start({local, Name}, ?MODULE, 0, []),
    Pid.

init(Count) -> {ok, Count}.

handle_call({add, N}, _From, Count) -> {reply, Count + N, Count + N};
handle_call(get, _From, Count) -> {reply, Count, Count};
handle_call({echo, X}, _From, Count) -> {reply, X, Count};
handle_call({sleep, Ms}, _From, Count) -> timer:sleep(Ms), {reply, slept, Count};
handle_call({stop, Reason}, _From, Count) -> {stop, Reason, Count}.

handle_cast({add, N}, Count) -> {noreply, Count + N}.
