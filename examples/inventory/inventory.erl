%% The inventory server as it was written in Erlang, before it moved to C++ (inventory.cpp).
%% Kept here to show what the C++ actor replaces; the interop test runs shop.erl against both.
-module(inventory).
-behaviour(gen_server).
-export([start/0, init/1, handle_call/3, handle_cast/2]).

start() -> gen_server:start({local, inventory}, ?MODULE, #{}, []).

init(Stock) -> {ok, Stock}.

handle_call({add, Item, N}, _From, Stock) when is_atom(Item), is_integer(N), N > 0 ->
    Have = maps:get(Item, Stock, 0) + N,
    {reply, {ok, Have}, Stock#{Item => Have}};
handle_call({take, Item, N}, _From, Stock) when is_atom(Item), is_integer(N), N > 0 ->
    case maps:get(Item, Stock, 0) of
        Have when Have >= N -> {reply, {ok, Have - N}, Stock#{Item => Have - N}};
        Have -> {reply, {error, {short, Have}}, Stock}
    end;
handle_call({count, Item}, _From, Stock) when is_atom(Item) ->
    {reply, maps:get(Item, Stock, 0), Stock};
handle_call(Request, _From, Stock) ->
    {reply, {error, {bad_request, Request}}, Stock}.

handle_cast({discard, Item}, Stock) -> {noreply, maps:remove(Item, Stock)};
handle_cast(_Other, Stock) -> {noreply, Stock}.
