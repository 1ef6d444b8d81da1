%% The BEAM anchor for the proxy benchmark: a gen_server that serves each call by calling a
%% backend gen_server without waiting (send_request), and answers from handle_info when the
%% backend's reply arrives: the same pattern as our C++ proxy actor's call_async.
-module(bench_proxy).
-behaviour(gen_server).
-export([start/1, init/1, handle_call/3, handle_cast/2, handle_info/2]).

start(Backend) ->
    {ok, Pid} = gen_server:start({local, proxy}, ?MODULE, Backend, []),
    Pid.

init(Backend) -> {ok, {Backend, gen_server:reqids_new()}}.

handle_call(Request, From, {Backend, Requests}) ->
    {noreply, {Backend, gen_server:send_request(Backend, Request, From, Requests)}}.

handle_info(Message, {Backend, Requests} = State) ->
    case gen_server:check_response(Message, Requests, true) of
        {{reply, Reply}, From, Rest} ->
            gen_server:reply(From, Reply),
            {noreply, {Backend, Rest}};
        {{error, {Reason, _}}, From, Rest} ->
            gen_server:reply(From, {error, Reason}),
            {noreply, {Backend, Rest}};
        _ ->
            {noreply, State}
    end.

handle_cast(_, State) -> {noreply, State}.
