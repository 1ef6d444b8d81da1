%% The BEAM twin of the C++ demo node's rpc module `demo` (src/cli/demo_rpc.cpp): the interop
%% tests call both with rpc and erpc and compare what comes back, so that our answers are held to
%% what a real node gives, not to what we think it gives.
-module(demo).
-compile({no_auto_import, [node/0]}).
-export([echo/1, add/2, node/0, fail/1, raise/2, sleep/1]).

echo(X) -> X.
add(A, B) -> A + B.
node() -> erlang:node().
fail(R) -> erlang:error(R).
raise(throw, R) -> erlang:throw(R);
raise(exit, R) -> erlang:exit(R);
raise(error, R) -> erlang:error(R).
sleep(Ms) -> timer:sleep(Ms), ok.
