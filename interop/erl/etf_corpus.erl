%% The BEAM side of the ETF interop corpus: makes a seeded random corpus of terms, writes their
%% term_to_binary forms, and judges what the C++ codec made of them.
%%
%% A corpus file is a sequence of frames, <<Size:32, Bytes:Size/binary>>; an empty frame stands
%% for a term the C++ side could not handle (it reports those itself).
-module(etf_corpus).
-export([generate/3, check/2, check_text/2, expect_all/2, show/2, write_texts/2]).

%% ---------------------------------------------------------------------------------------------
%% Writing the corpus

generate(Seed, Count, Path) ->
    rand:seed(exsss, Seed),
    Frames = [frame(encode(term_for(I))) || I <- lists:seq(1, Count)],
    ok = file:write_file(Path, Frames),
    Count.

frame(Bytes) -> [<<(byte_size(Bytes)):32>>, Bytes].

%% Old and new encodings, compressed or not: every tag term_to_binary can still emit.
encode(T) ->
    Options = case rand:uniform(10) of
                  1 -> [compressed];
                  2 -> [{compressed, 9}];
                  3 -> [{minor_version, 0}];
                  4 -> [{minor_version, 2}];
                  5 -> [{minor_version, 2}, compressed];
                  _ -> []
              end,
    term_to_binary(T, Options).

term_for(I) when I rem 250 =:= 0 -> deep(rand:uniform(10000));
term_for(I) when I rem 97 =:= 0 -> big_map(rand:uniform(2000));
term_for(I) when I rem 61 =:= 0 -> bignum(rand:uniform(11111));
term_for(I) when I rem 151 =:= 0 -> rand:bytes(65536 + rand:uniform(1000));
term_for(I) when I rem 173 =:= 0 -> [rand:uniform(256) - 1 || _ <- lists:seq(1, 65530 + rand:uniform(10))];
term_for(_) -> term(rand:uniform(6)).

deep(N) ->
    Leaf = leaf(),
    case rand:uniform(3) of
        1 -> lists:foldl(fun(_, Acc) -> [Acc] end, Leaf, lists:seq(1, N));
        2 -> lists:foldl(fun(I, Acc) -> {Acc, I} end, Leaf, lists:seq(1, N));
        3 -> lists:foldl(fun(I, Acc) -> #{I => Acc, a => I} end, Leaf, lists:seq(1, N))
    end.

big_map(N) ->
    case rand:uniform(2) of
        1 -> maps:from_list([{K, leaf()} || K <- lists:seq(1, N)]);
        2 -> maps:from_list([{leaf(), leaf()} || _ <- lists:seq(1, N)])
    end.

term(0) -> leaf();
term(D) ->
    case rand:uniform(12) of
        N when N =< 5 -> leaf();
        6 -> list_to_tuple(items(D));
        7 -> items(D);
        8 -> improper(D);
        9 -> maps:from_list([{term(D - 1), term(D - 1)} || _ <- lists:seq(1, rand:uniform(8))]);
        10 -> maps:from_list([{leaf(), leaf()} || _ <- lists:seq(1, 30 + rand:uniform(40))]);
        11 -> closure(term(D - 1));
        12 -> [term(D - 1) | term(D - 1)]
    end.

items(D) -> [term(D - 1) || _ <- lists:seq(1, rand:uniform(7) - 1)].

improper(D) ->
    Tail = case leaf() of
               L when is_list(L) -> {L};
               L -> L
           end,
    lists:foldr(fun(X, Acc) -> [X | Acc] end, Tail, [term(D - 1) | items(D)]).

leaf() ->
    case rand:uniform(22) of
        1 -> rand:uniform(256) - 1;
        2 -> rand:uniform(1 bsl 32) - (1 bsl 31);
        3 -> rand:uniform(1 bsl 64) - (1 bsl 63);
        4 -> bignum(rand:uniform(400));
        5 -> float();
        6 -> list_to_atom([$a + rand:uniform(26) - 1 || _ <- lists:seq(1, rand:uniform(12))]);
        7 -> unicode_atom();
        8 -> [rand:uniform(256) - 1 || _ <- lists:seq(1, rand:uniform(40) - 1)];
        9 -> [code_point() || _ <- lists:seq(1, rand:uniform(20))];
        10 -> rand:bytes(rand:uniform(300) - 1);
        11 -> Bits = rand:uniform(7), <<(rand:bytes(rand:uniform(20) - 1))/binary,
                                        (rand:uniform(1 bsl Bits) - 1):Bits>>;
        12 -> pid();
        13 -> ref();
        14 -> port();
        15 -> export_fun();
        16 -> pick([[], {}, #{}, <<>>, "", '', true, false]);
        17 -> pick([-1, 255, 256, -256, -(1 bsl 31), (1 bsl 31) - 1, 1 bsl 31, (1 bsl 63) - 1,
                    -(1 bsl 63), 1 bsl 63, -(1 bsl 63) - 1, 1 bsl 64, (1 bsl 64) - 1, 1 bsl 11111,
                    -(1 bsl 11111), (1 bsl 11111) - 1, 134217727, -134217728, 134217728]);
        18 -> list_to_atom([128 + rand:uniform(128) - 1 || _ <- lists:seq(1, rand:uniform(10))]);
        19 -> pick([0.0, -0.0, 5.0e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                    -1.7976931348623157e308, 0.1, 1.0e15, 123456789.0]);
        20 -> -rand:uniform(1 bsl 27);
        21 -> binary:copy(<<(rand:uniform(256) - 1)>>, rand:uniform(2000));
        22 -> closure(leaf())
    end.

pick(List) -> lists:nth(rand:uniform(length(List)), List).

bignum(Bits) ->
    Magnitude = binary:decode_unsigned(rand:bytes((Bits + 7) div 8)) bor (1 bsl (Bits - 1)),
    case rand:uniform(2) of
        1 -> Magnitude;
        2 -> -Magnitude
    end.

float() ->
    F = (rand:uniform_real() - 0.5) * math:pow(10, rand:uniform(600) - 300),
    case rand:uniform(4) of
        1 -> float(rand:uniform(1000000) - 500000);
        _ -> F
    end.

code_point() ->
    case rand:uniform(5) of
        1 -> 32 + rand:uniform(95) - 1;
        2 -> 160 + rand:uniform(96) - 1;
        3 -> 16#370 + rand:uniform(16#200);
        4 -> 16#4E00 + rand:uniform(16#5000);
        5 -> 16#1F300 + rand:uniform(16#300)
    end.

unicode_atom() ->
    Length = case rand:uniform(10) of
                 1 -> 255;
                 _ -> rand:uniform(30)
             end,
    list_to_atom([code_point() || _ <- lists:seq(1, Length)]).

node_atom() ->
    Name = [$a + rand:uniform(26) - 1 || _ <- lists:seq(1, rand:uniform(10))],
    Node = list_to_atom(Name ++ "@" ++ pick(["host", "example.com", "h\x{f8}st"])),
    atom_to_binary(Node, utf8).

ext_atom(Bin) -> <<119, (byte_size(Bin)), Bin/binary>>.

%% Identifiers of other nodes, made from their external forms; values the BEAM refuses fall
%% back to ones in the older, smaller ranges.
from_ext(Wide, Narrow) ->
    try binary_to_term(Wide) catch error:badarg -> binary_to_term(Narrow) end.

pid() ->
    case rand:uniform(4) of
        1 -> self();
        2 -> spawn(fun() -> ok end);
        _ ->
            Node = ext_atom(node_atom()),
            Id = rand:uniform(1 bsl 32) - 1,
            Serial = rand:uniform(1 bsl 32) - 1,
            Creation = rand:uniform(1 bsl 32) - 1,
            from_ext(<<131, 88, Node/binary, Id:32, Serial:32, Creation:32>>,
                     <<131, 88, Node/binary, (Id band 16#7fff):32, (Serial band 16#1fff):32,
                       Creation:32>>)
    end.

ref() ->
    case rand:uniform(4) of
        1 -> make_ref();
        2 -> alias();
        _ ->
            Node = ext_atom(node_atom()),
            % OTP 25 hashes 1- and 2-word external references inconsistently inside large
            % maps (a decoded map is then not =:= to itself), so only 3 to 5 words.
            Words = 2 + rand:uniform(3),
            Ids = << <<(rand:uniform(1 bsl 32) - 1):32>> || _ <- lists:seq(1, Words) >>,
            Creation = rand:uniform(1 bsl 32) - 1,
            from_ext(<<131, 90, Words:16, Node/binary, Creation:32, Ids/binary>>,
                     <<131, 90, 3:16, Node/binary, Creation:32, 0:32, 0:32,
                       (binary:first(Ids) band 16#3):32>>)
    end.

port() ->
    case rand:uniform(3) of
        1 -> pick(erlang:ports());
        _ ->
            Node = ext_atom(node_atom()),
            Id = rand:uniform(1 bsl 64) - 1,
            Creation = rand:uniform(1 bsl 32) - 1,
            from_ext(<<131, 120, Node/binary, Id:64, Creation:32>>,
                     <<131, 89, Node/binary, (Id band 16#fffffff):32, Creation:32>>)
    end.

export_fun() ->
    case rand:uniform(2) of
        1 -> pick([fun lists:map/2, fun erlang:abs/1, fun ?MODULE:generate/3]);
        2 -> erlang:make_fun(unicode_atom(), unicode_atom(), rand:uniform(256) - 1)
    end.

closure(Env) ->
    case rand:uniform(4) of
        1 -> fun() -> Env end;
        2 -> fun(X) -> {X, Env} end;
        3 -> Other = leaf(), fun(X, Y) -> [X, Y, Env, Other] end;
        4 -> fun() -> ok end
    end.

%% ---------------------------------------------------------------------------------------------
%% Judging

frames(<<>>) -> [];
frames(<<Size:32, Bytes:Size/binary, Rest/binary>>) -> [Bytes | frames(Rest)].

read_frames(Path) ->
    {ok, Bin} = file:read_file(Path),
    frames(Bin).

show(T) -> lists:flatten(io_lib:format("~P", [T, 12])).

%% The original term of frame Index, printed.
show(Path, Index) -> show(binary_to_term(lists:nth(Index, read_frames(Path)))).

report(Checked, Bad) ->
    case Bad of
        [] -> {ok, Checked};
        _ -> {mismatches, length(Bad), lists:sublist(Bad, 5)}
    end.

%% Our re-encodings against the originals: binary_to_term(Ours) =:= Original for every term.
check(OriginalPath, OursPath) ->
    Originals = read_frames(OriginalPath),
    Ours = read_frames(OursPath),
    length(Originals) =:= length(Ours) orelse error({frame_counts, length(Originals), length(Ours)}),
    Pairs = lists:zip(lists:seq(1, length(Ours)), lists:zip(Originals, Ours)),
    Bad = [{I, show(binary_to_term(O)), decoded(U)}
           || {I, {O, U}} <- Pairs, U =/= <<>>, not same(binary_to_term(O), U)],
    report(length([U || {_, {_, U}} <- Pairs, U =/= <<>>]), Bad).

same(Original, Ours) ->
    try binary_to_term(Ours) =:= Original catch error:badarg -> false end.

decoded(Bytes) ->
    try show(binary_to_term(Bytes)) catch error:badarg -> {badarg, Bytes} end.

%% Our printed text of terms: each frame of TextPath is UTF-8 text that must read back, with
%% erl_scan and erl_parse, as the original of the same frame (empty frames are skipped).
check_text(OriginalPath, TextPath) ->
    Pairs = lists:zip(read_frames(OriginalPath), read_frames(TextPath)),
    Checked = [{I, binary_to_term(O), Text}
               || {I, {O, Text}} <- lists:zip(lists:seq(1, length(Pairs)), Pairs), Text =/= <<>>],
    Bad = [{I, show(T), Text} || {I, T, Text} <- Checked, parse(Text) =/= {ok, T}],
    report(length(Checked), Bad).

parse(Text) ->
    try
        {ok, Tokens, _} = erl_scan:string(unicode:characters_to_list(Text) ++ "."),
        {ok, [Expr]} = erl_parse:parse_exprs(Tokens),
        {value, Value, _} = erl_eval:expr(Expr, erl_eval:new_bindings()),
        {ok, Value}
    catch C:R -> {C, R}
    end.

%% Erlang's own text (~0p, UTF-8) of each data term of OriginalPath; empty frames for terms with
%% pids, ports, references or funs, which have no literal syntax. Returns how many were written.
write_texts(OriginalPath, TextPath) ->
    Texts = [case is_data(T) of
                 true -> unicode:characters_to_binary(io_lib:format("~0p", [T]));
                 false -> <<>>
             end || T <- [binary_to_term(F) || F <- read_frames(OriginalPath)]],
    ok = file:write_file(TextPath, [frame(T) || T <- Texts]),
    length([T || T <- Texts, T =/= <<>>]).

is_data(T) when is_pid(T); is_port(T); is_reference(T); is_function(T) -> false;
is_data(T) when is_tuple(T) -> lists:all(fun is_data/1, tuple_to_list(T));
is_data(T) when is_map(T) -> is_data(maps:to_list(T));
is_data([H | T]) -> is_data(H) andalso is_data(T);
is_data(_) -> true.

%% Terms we encoded from C++ against what they should be: frame I of Path must decode to
%% element I of Expected.
expect_all(Path, Expected) ->
    Frames = read_frames(Path),
    length(Frames) =:= length(Expected) orelse error({frame_counts, length(Frames), length(Expected)}),
    Bad = [{I, show(E), decoded(F)}
           || {I, {F, E}} <- lists:zip(lists:seq(1, length(Frames)), lists:zip(Frames, Expected)),
              not same(E, F)],
    report(length(Frames), Bad).
