%% The BEAM anchor for the call benchmark: a gen_server with the demo node's kv protocol.
-module(bench_kv).
-behaviour(gen_server).
-export([start/0, echo/1, init/1, handle_call/3, handle_cast/2]).

start() ->
    {ok, Pid} = gen_server:start({local, kv}, ?MODULE, [], []),
    Pid.

%% What erpc:call runs in the rpc rows (our demo:echo/1 is the same function).
echo(X) -> X.

init([]) -> {ok, #{}}.

handle_call({put, K, V}, _From, S) -> {reply, ok, S#{K => V}};
handle_call({get, K}, _From, S) ->
    case S of
        #{K := V} -> {reply, {ok, V}, S};
        _ -> {reply, not_found, S}
    end;
handle_call({delete, K}, _From, S) -> {reply, ok, maps:remove(K, S)};
handle_call(keys, _From, S) -> {reply, maps:keys(S), S}.

handle_cast({put, K, V}, S) -> {noreply, S#{K => V}}.
