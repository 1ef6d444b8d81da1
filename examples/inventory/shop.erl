%% A caller of the inventory server. It was written against inventory.erl and is not changed
%% when the server moves to C++: only the node it is given differs.
-module(shop).
-export([day/1]).

%% A day of trading against the inventory server on Node: every reply, in order.
day(Node) ->
    Inventory = {inventory, Node},
    Call = fun(Request) -> gen_server:call(Inventory, Request) end,
    Morning = [Call({add, apples, 10}), Call({add, pears, 4}), Call({take, apples, 3}),
               Call({take, pears, 5}), Call({count, apples}), Call({count, plums}),
               Call({add, apples, -1}), Call(what_is_this)],
    ok = gen_server:cast(Inventory, {discard, pears}),
    Morning ++ [Call({count, pears}), Call({take, apples, 7}), Call({count, apples})].
