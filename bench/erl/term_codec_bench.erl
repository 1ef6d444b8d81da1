%% The BEAM anchor of the term codec benchmark: term_to_binary/1 and binary_to_term/1 on the rows
%% bench/corpus.cpp builds, in the same order. Prints one line per row:
%% row<TAB>Index<TAB>Bytes<TAB>EncodeOpsPerSecond<TAB>DecodeOpsPerSecond
-module(term_codec_bench).
-export([main/1]).

main(MillisPerRun) ->
    Rows = rows(),
    lists:foreach(
      fun({Index, Term}) ->
              Bin = term_to_binary(Term),
              Encode = rate(fun() -> term_to_binary(Term) end, MillisPerRun),
              Decode = rate(fun() -> binary_to_term(Bin) end, MillisPerRun),
              io:format("row\t~b\t~b\t~.1f\t~.1f~n", [Index, byte_size(Bin), Encode, Decode])
      end,
      lists:zip(lists:seq(1, length(Rows)), Rows)).

%% Best of three runs of at least MillisPerRun each, in operations per second.
rate(Op, MillisPerRun) ->
    lists:max([run(Op, MillisPerRun) || _ <- [1, 2, 3]]).

run(Op, MillisPerRun) ->
    garbage_collect(),
    Start = erlang:monotonic_time(nanosecond),
    Deadline = Start + MillisPerRun * 1000000,
    {Count, End} = loop(Op, 1, 0, Deadline),
    Count * 1.0e9 / (End - Start).

loop(Op, Batch, Count, Deadline) ->
    repeat(Op, Batch),
    Now = erlang:monotonic_time(nanosecond),
    case Now >= Deadline of
        true -> {Count + Batch, Now};
        false -> loop(Op, min(Batch * 2, 4096), Count + Batch, Deadline)
    end.

repeat(_, 0) -> ok;
repeat(Op, N) -> Op(), repeat(Op, N - 1).

pattern(Size) -> << <<((I * 31 + 7) band 255)>> || I <- lists:seq(0, Size - 1) >>.

pid() -> binary_to_term(<<131, 88, 119, 15, "bench@localhost", 85:32, 0:32, 1:32>>).
ref() -> binary_to_term(<<131, 90, 3:16, 119, 15, "bench@localhost", 1:32, 101:32, 202:32, 303:32>>).

bignum(I) ->
    Bytes = 9 + 2 * I,
    Magnitude = binary:decode_unsigned(<<1, (binary:copy(<<16#5a>>, Bytes - 1))/binary>>),
    case I rem 2 of
        1 -> -Magnitude;
        0 -> Magnitude
    end.

rows() ->
    [{2, '', pid()},
     {6, pid(), '', ref()},
     pattern(1024),
     pattern(65536),
     lists:seq(1, 1000),
     maps:from_list([{list_to_atom("key" ++ integer_to_list(I)), I * 1000} || I <- lists:seq(1, 100)]),
     [{person, <<"Person ", (integer_to_binary(I))/binary>>, I rem 100,
       <<"person", (integer_to_binary(I))/binary, "@example.com">>} || I <- lists:seq(1, 10000)],
     [bignum(I) || I <- lists:seq(0, 63)],
     lists:foldl(fun(I, Acc) -> {I, Acc} end, ok, lists:seq(1, 1000)),
     [{ok, error, undefined, list_to_atom("name_" ++ integer_to_list(I rem 100))}
      || I <- lists:seq(1, 1000)]].
