// Printing and parsing Erlang syntax. Every expected text below was printed by a real erl (OTP 25)
// with io_lib:print(T, 1, 1000000, -1), which is ~p on one line.
#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "distribute/etf.hpp"
#include "distribute/term.hpp"

using namespace distribute;

namespace {

Term parsed(std::string_view text) {
    auto result = parse_term(text);
    INFO("input: ", text);
    if (!result) FAIL("parse error: ", result.error().to_string());
    return *result;
}

// Each input is Erlang source; each output is what erl printed for the term it denotes.
struct Golden {
    std::string_view input;
    std::string_view printed;
};
constexpr Golden goldens[] = {
    {R"({a,[1,2|3],#{a=>1,"b"=>[]},<<"abc">>,<<1,2:3>>})",
     R"({a,[1,2|3],#{a => 1,"b" => []},<<"abc">>,<<1,2:3>>})"},
    {R"(1.0e10)", R"(1.0e10)"},
    {R"([0.1, 100.0, 1.0e15, 12345.678, 5.0e-324, -0.0, 0.0001, 1.0e-5, 1.2345678901234568e20])",
     R"([0.1,100.0,1.0e15,12345.678,5.0e-324,-0.0,0.0001,1.0e-5,1.2345678901234568e20])"},
    {R"('node@host.x')", R"('node@host.x')"},
    {R"([a@b, 'é', maybe, 'after', '', 'a\'b', 'A'])", R"([a@b,é,maybe,'after','','a\'b','A'])"},
    {R"("abc\n\t" "def")", R"("abc\n\tdef")"},
    {R"(<<"üñí"/utf8>>)", R"(<<"Ã¼Ã±Ã­">>)"},
    {R"(16#ff)", R"(255)"},
    {R"($\n)", R"(10)"},
    {R"(- 123456789012345678901234567890)", R"(-123456789012345678901234567890)"},
    {R"(fun lists:map/2)", R"(fun lists:map/2)"},
    {R"(<<1:4, 2:12>>)", R"(<<16,2>>)"},
    {R"("\x{65E5}")", R"([26085])"},
    {R"('\x{65E5}')", R"('\x{65E5}')"},
    {R"(<<16#ABC:12/little>>)", R"(<<188,10:4>>)"},
    {R"(<<-1:16/little>>)", R"(<<"ÿÿ">>)"},
    {R"(<<1.5/float, 2.5:32/float>>)", R"(<<63,248,0,0,0,0,0,0,64,32,0,0>>)"},
    {R"(<<"é"/utf16-little>>)", R"(<<233,0>>)"},
    {R"(1.0e-400)", R"(0.0)"},
    {R"(<<"\x{10000}"/utf16>>)", R"(<<216,0,220,0>>)"},
    {R"(<<1:3/unit:8>>)", R"(<<0,0,1>>)"},
    {R"(<<"ab":4>>)", R"(<<18>>)"},
    {R"("\^a\^z\s\d\e\177\1\12")", R"([1,26,32,127,27,127,1,10])"},
    {R"(<<$a/utf32-little>>)", R"(<<97,0,0,0>>)"},
    {R"(<<3:2/little,1:15/little>>)", R"(<<192,64,0:1>>)"},
    {R"($\x{41})", R"(65)"},
    {R"(2#1010)", R"(10)"},
    {R"(1_000_000)", R"(1000000)"},
    {R"(16#fF_fF)", R"(65535)"},
    {R"(36#Zz)", R"(1295)"},
    {R"(-0.0)", R"(-0.0)"},
    {R"(2.5E3)", R"(2.5e3)"},
    {R"(1.5e-3)", R"(0.0015)"},
    {R"(1.0e+2)", R"(100.0)"},
    {R"("\101\1012\x41\x{1F600}")", R"([65,65,50,65,128512])"},
    {R"('\x{1F600}')", R"('\x{1F600}')"},
    {R"($\s)", R"(32)"},
    {R"($ )", R"(32)"},
    {R"(<<"x">>)", R"(<<"x">>)"},
    {R"(<<1,2>>)", R"(<<1,2>>)"},
    {R"(<<>>)", R"(<<>>)"},
    {R"(<<"a" "b", $c>>)", R"(<<"abc">>)"},
    {R"(+5)", R"(5)"},
    {R"(- 2.5)", R"(-2.5)"},
    {R"({ } )", R"({})"},
    {R"([ ])", R"([])"},
    {R"(#{ })", R"(#{})"},
    {R"(#{1 => a, 1.0 => b, a => c, "s" => d, {} => e, [] => f})",
     R"(#{1 => a,1.0 => b,a => c,{} => e,[] => f,"s" => d})"},
    {R"(#{a => 1, a => 2})", R"(#{a => 2})"},
    {R"({'fun', 'case', 'end', else, maybe, 'ÿ', '÷', 'ß', 'aÀ', 'a×', '_a', 'a b', '\n', '\'', '"', '\\'})",
     R"({'fun','case','end',else,maybe,ÿ,'÷',ß,aÀ,'a×','_a','a b','\n','\'','"','\\'})"},
    {R"([0, 127, 128, 159, 160, 255])", R"([0,127,128,159,160,255])"},
    {R"("\e\t\v\b\f\r\n")", R"("\e\t\v\b\f\r\n")"},
    {R"(<<128,159,160,255>>)", R"(<<128,159,160,255>>)"},
    {R"(<<1:1>>)", R"(<<1:1>>)"},
    {R"(<<255:7>>)", R"(<<127:7>>)"},
    {R"([$a|b])", R"([97|b])"},
    {R"([1,2|[3,4|[]]])", R"([1,2,3,4])"},
    {R"(fun 'A':'b c'/0)", R"(fun 'A':'b c'/0)"},
    {R"(fun erlang:'+'/2)", R"(fun erlang:'+'/2)"},
    {R"(9223372036854775807)", R"(9223372036854775807)"},
    {R"(-9223372036854775808)", R"(-9223372036854775808)"},
    {R"(18446744073709551616)", R"(18446744073709551616)"},
    {R"(<<1:16/big>>)", R"(<<0,1>>)"},
    {R"(<<1:16/native>>)", R"(<<1,0>>)"},
    {R"(<<-2:16/signed-little>>)", R"(<<"þÿ">>)"},
    {R"(<<1:4/integer-unit:4>>)", R"(<<0,1>>)"},
    {R"(<<2.5:32/float-little>>)", R"(<<0,0,32,64>>)"},
    {R"(<<7/float>>)", R"(<<64,28,0,0,0,0,0,0>>)"},
    {R"(<<"ab":16/little>>)", R"(<<97,0,98,0>>)"},
    {R"(<<"ab"/utf32>>)", R"(<<0,0,0,97,0,0,0,98>>)"},
    {R"(<<1:100>>)", R"(<<0,0,0,0,0,0,0,0,0,0,0,0,1:4>>)"},
    {R"(<<-1:70>>)", R"(<<255,255,255,255,255,255,255,255,63:6>>)"},
    {R"(<<-123456789012345678901234567890:104/little>>)",
     R"(<<46,245,192,177,17,31,140,60,9,240,22,113,254>>)"},
};

// 128 random terms from a seeded generator in erl, as erl printed them.
constexpr std::string_view erl_random_corpus =
    R"(616945541883380919071817277736191560535267666006922714891334
#{{} => [130,37,198],[24,24] => [[{[],"´<Õ"},122],'a×']}
#{[#{[1.0e-5,<<"r">>|-1.9579278243590908e-302] => []},-6392403180902740259|-360] => <<"ea uc">>,[["a\"b\\c'd"|<<"zu">>]] => <<1:1>>}
-587524837507800881774428723615404384575330684598507245971886
8683473579227296507020852620920345129380622501251363352484
-115891155366438212620326980242240958470261011582089009689860
#{'case' => #{{<<"iz">>} => [<<"Ï">>,-6.832770625260143e255|1.3223191106539085e-141]},<<"a">> => <<"rÝÌÝ">>}
505545494780340073042742096002305732491937685732689245006771
[-2.4543431140499458e-182|-2.4782985701081013e233]
-197677000617692321085604268938733235233901969260832874086694
[<<"Ã¼Ã±Ã­">>,{<<>>,<<0,7,55:7>>},[157,172,133]|<<"zip">>]
[-5908024751517183451,[],102,233,97,32,112,111,114]
[<<"g\"r">>,'case',[<<"\n">>,{}|fun 'A':'b c'/0]|cr]
[[],[[],<<0,9,18:5>>,1911737234476058903],[fun erlang:'+'/2|<<16:5>>]]
322710287221506719288816515138420893473796684822461184508497
[{#{100.0 => <<"hÃ©llo">>,<<7,8:6>> => <<"½">>},<<244,0:1>>,[<<"a">>|{{}}]}|<<1:2>>]
["w",{-4497343915344397703,[{{{}},[100,233,1000],<<"kz\"è">>}|fun 'A':'b c'/0],[[]|<<"ÝäûÂ">>]},[154,49]]
[[-101,[-7505602027347417496],a@b,77,204]|<<189,47,176,159,0>>]
[[5.356837299153894e-224,[{},[-6.23712270651494e171,<<230,151,165,230,156,172,232,170,158>>]],"é"|<<"wct">>],{}|<<"\"Æ">>]
770808544895652284252419682575292737142669729003896448720437
[{fun 'A':'b c'/0},{}|9197542490339344820]
-85156751912879519065305603206107812522803052662063366978621
[[248,220,203,227,293],[[],<<>>]|635997071026233358833701043130982309899254960061311479574592]
{9.007199254740992e15,<<"c'r">>,[<<147>>,-394,278112922465138487924613670970083950984168761258085414037012]}
{[{},-682856068248624326914096457153998449007830893580938926894708,#{fun 'A':'b c'/0 => "¾0",[[]] => -15,["\ehnvk\\",-7.288015901336402e17|<<>>] => [-318]}]}
{[#{3.643675471662471e-103 => [aé,"a\"b\\c'd"]},-740706228837140147283520977882939168983998303113161284742428|-482310247235099001481446614011726059443797652646579282650928]}
241451775092689417941887937628865638982953134106606244518244
[['a×',[3.533064190154932e-217,6404741611814321421]]]
[<<0,1,118:7>>,471,-265395472232608953018133125040110866346386861038936830312445|-194]
366741588221365338128590694762731266850291083556169078971955
657988551346706281485674533188432716023905365675443627719998
{#{{'÷'} => <<"Ã¼Ã±Ã­">>,"é" => -4718685265436880112},'case'}
-32930058803983210728104471999412338333715129427203586571263
#{1.8039087337639504e248 => {[["é",' v\x{3E8}'|687124623819991436399237967652278126387738244077175327111517],[149,73,219,250],#{}]}}
{[12,269,105,196],[207004556912116485597236207735766673448151685966228868212647,ulj|'lbx '],-0.0}
[<<230,151,165,230,156,172,232,170,158>>|<<28:6>>]
#{"a\"b\\c'd" => "tbzeyzv",<<"¤Mö¸">> => fun m:f/255}
#{["bfv",248,110,216,203,182] => [22,137,1,85,228]}
716748201123094096280328712977938125194269276558371390081787
380909848546845682732438100530263268224355978140796740742750
#{-3227432469479183912 => '"',719998518037781438 => <<"am">>,96590420199118306182941052698780686264346686276667789870508 => "\e\t\v\b\f\r\n"}
[-321,-2116415214857276.8|1.583225551302007e-167]
-113318507758755532495711933836460031884554900971869957247310
#{<<128,116,138,112,227>> => <<"Ã¼Ã±Ã­">>}
522963301664167486171530344522922358049120568674536874538631
-548507964288559565760786765928296568184964652864285013467360
[[9.263401354641146e-7,[26085,26412]|1.0e-5]]
181757720163638960981353640327578420994433673424766302627837
[{"ºo>x",[-0.0,<<230,151,165,230,156,172,232,170,158>>,<<204,14,84,228,123>>],[]},fun erlang:'+'/2,[]]
[[<<230,151,165,230,156,172,232,170,158>>,<<"qÿ">>,{{210},[-1.5483345908094907e302,-0.0|{}]}],#{b => {<<227,108,2,138>>,{},8.467584579211914e27}},-1.8701293239870065e34,92,183,281,213,139]
{"é",<<230,151,165,230,156,172,232,170,158>>,{[#{-225 => []}],-8.023035663767514e-51}}
764964227581675596550357864395943950646555799918390909951905
[[{},<<0:1>>|<<"l">>],[{<<47:6>>,1982373078214464317,<<181,114,129>>},107,109]]
675168175591126769387175064633056898032684485597269058642114
790742987023308797262919092571614677925469642328460153889097
181858232879170088467031785448663768171429735711149477794193
{[#{},-1.5494995162659618e68,2.1346428359958382e-252|5.0e-324],[3.870275868626703e-20,<<2:4>>,6.065209419796781e-7|1.2573798198446395e-100]}
-249624883380734817517039114562402298556109466656262691610353
-461684978169490003093895588213785904187810168192661588406817
#{1.2127429396623992e168 => 727555649658613832,<<"ÿ7«">> => 'a.b'}
#{{[<<12,0:1>>],[[-506715314040202039527640116571631425373636804301528725577686,-1986891029663871983|359]],[58,156]} => {"å",#{}},"¶;" => "a\"b\\c'd"}
[[[[200,180,144],118,119,111,120,105,112,107],[],-6721412008775048473|fun lists:map/2],[[186,45,89,43,298],"y\eu\\m ",fun lists:map/2|'\x{65E5}\x{672C}'],81,3,59]
[1.0e16,-7753701886488451386|-4.320508664191986e284]
-452357984958358064716401783683334116356653940084476105804217
#{-5.497602953360344e-260 => -547427460573673788556131587448207308645492784855872757658494,{} => -235}
26326551906975845812423747607389144796166807074126182726256
[fun erlang:'+'/2,{2.139048465171297e-268,[]},fun lists:map/2|470]
#{627.0098259235108 => [100.0,{[fun 'A':'b c'/0],<<"óvH">>,{-332,<<"sï">>}}|704135885249496758819588558800076751814497165507455013563173],[-477,[26085,26412]] => <<"hÃ©llo">>}
' y"x\n\''
[]
[276,186]
293
{}
3.6708957608764823e244
[fun lists:map/2]
[]
-1.3010710046410364e48
[[0,1,127,128,159,160,255]|<<121:7>>]
<<0,16,15:4>>
"q \ea"
[[230,253,73,164,21]|' uz']
nonode@nohost
<<"a">>
"!S"
2.965075595675685e-96
[[]]
{}
#{[] => #{},<<"a">> => <<"fwgo">>}
'\000l\x{3E8}'
<<230,151,165,230,156,172,232,170,158>>
'\evé'
1.7976931348623157e308
'after'
[<<17:5>>,"tz"|164]
-474
-3.7367471952241554e276
sou
2449523113021350094
ÿ
-49
<<0,108,0:3>>
fun m:f/255
n
<<"Ã¼Ã±Ã­">>
[123.456]
ouvs
i
-241
vlv
#{}
3.119923561477151e79
{}
7225000443340863837
1784450279790269891
'tu\''
-920460173801483231
k
<<30:7>>
true
[]
ß
"\e\t\v\b\f\r\n"
[{},é|-3.8178026535791556e-64]
<<"oz">>
<<"hÃ©llo">>
<<230,151,165,230,156,172,232,170,158>>
fun lists:map/2
[0,1,127,128,159,160,255]
)";

// Random terms of every data kind, from a fixed seed.
class RandomTerms {
  public:
    explicit RandomTerms(std::uint64_t seed) : rng_(seed) {}

    Term any(int depth) {
        if (depth == 0) return leaf();
        switch (below(8)) {
            case 0:
                return tuple_from(several(depth));
            case 1:
                return list_from(several(depth));
            case 2:
                return list_from(several(depth), leaf_not_list());
            case 3: {
                std::vector<MapEntry> entries;
                for (std::size_t n = below(5); n > 0; --n)
                    entries.push_back({any(depth - 1), any(depth - 1)});
                return map_from(entries);
            }
            default:
                return leaf();
        }
    }

    double finite_double() {
        for (;;) {
            double d = std::bit_cast<double>(static_cast<std::uint64_t>(rng_()));
            if (std::isfinite(d)) return d;
        }
    }

  private:
    std::uint64_t below(std::uint64_t n) { return rng_() % n; }

    std::vector<Term> several(int depth) {
        std::vector<Term> items;
        for (std::size_t n = below(4); n > 0; --n)
            items.push_back(any(depth - 1));
        return items;
    }

    Term leaf_not_list() {
        for (;;) {
            Term t = leaf();
            if (!t.is_list()) return t;
        }
    }

    std::string atom_text() {
        static constexpr std::string_view pieces[] = {"a", "z",  "Q",  "_",  "@",    "0",    " ",
                                                      "'", "\\", "\"", "\n", "\x01", "\x7f", "é",
                                                      "ÿ", "÷",  "À",  "日", "😀",    "."};
        std::string name;
        for (std::size_t n = below(7); n > 0; --n)
            name += pieces[below(std::size(pieces))];
        return name;
    }

    char32_t code_point() {
        switch (below(4)) {
            case 0:
                return static_cast<char32_t>(0x20 + below(0x5F));
            case 1:
                return static_cast<char32_t>(0xA0 + below(0x60));
            case 2:
                return static_cast<char32_t>(below(0x100));
            default: {
                auto c = static_cast<char32_t>(below(0x110000));
                return c >= 0xD800 && c <= 0xDFFF ? U'x' : c;
            }
        }
    }

    std::vector<std::uint8_t> bytes(bool printable) {
        std::vector<std::uint8_t> out(below(8));
        for (auto& b : out)
            b = static_cast<std::uint8_t>(printable ? 0x20 + below(0x5F) : below(256));
        return out;
    }

    Term leaf() {
        switch (below(12)) {
            case 0:
                return Term(static_cast<std::int64_t>(rng_()) >> below(64));
            case 1: {
                std::vector<std::uint8_t> mag(9 + below(32));
                for (auto& b : mag)
                    b = static_cast<std::uint8_t>(rng_());
                mag.back() |= 1;
                return Term(BigInt(below(2) == 0, mag));
            }
            case 2:
                return Term(finite_double());
            case 3:
                return Term(Atom::make(atom_text()).value());
            case 4: {
                std::vector<Term> chars;
                for (std::size_t n = below(6); n > 0; --n)
                    chars.push_back(Term(static_cast<std::int64_t>(code_point())));
                return list_from(chars);
            }
            case 5:
                return binary(bytes(below(2) == 0));
            case 6: {
                auto b = bytes(false);
                b.push_back(static_cast<std::uint8_t>(rng_()));
                auto tail = static_cast<std::uint8_t>(1 + below(7));
                b.back() &= static_cast<std::uint8_t>(0xFF << (8 - tail));
                return bitstring(b, tail);
            }
            case 7:
                return Term(ExportFun{Atom::make(atom_text()).value(),
                                      Atom::make(atom_text()).value(),
                                      static_cast<std::uint8_t>(rng_())});
            case 8:
                return charlist(atom_text()).value();
            case 9:
                return Term(static_cast<std::int64_t>(below(300)) - 20);
            case 10:
                return tuple();
            default:
                return Term();
        }
    }

    std::mt19937_64 rng_;
};

void check_round_trip(const Term& t) {
    std::string text = to_string(t);
    auto back = parse_term(text);
    INFO("printed: ", text);
    REQUIRE(back.has_value());
    CHECK(*back == t);
}

}  // namespace

TEST_CASE("terms print as erl's ~p prints them") {
    for (const auto& g : goldens) {
        INFO("input: ", g.input);
        CHECK(to_string(parsed(g.input)) == g.printed);
    }
}

TEST_CASE("random terms printed by erl parse and print back to the same text") {
    std::istringstream lines{std::string(erl_random_corpus)};
    std::size_t count = 0;
    for (std::string line; std::getline(lines, line); ++count)
        CHECK(to_string(parsed(line)) == line);
    CHECK(count > 100);
}

TEST_CASE("floats print with the shortest digits, in erl's choice of notation") {
    const std::pair<double, std::string_view> floats[] = {
        {1.0, "1.0"},
        {0.1, "0.1"},
        {100.0, "100.0"},
        {1.0e10, "1.0e10"},
        {1.0e15, "1.0e15"},
        {1.2345678901234568e20, "1.2345678901234568e20"},
        {0.001, "0.001"},
        {0.0001, "0.0001"},
        {1.0e-5, "1.0e-5"},
        {5.0e-324, "5.0e-324"},
        {-0.0, "-0.0"},
        {0.0, "0.0"},
        {12345.678, "12345.678"},
        {9007199254740992.0, "9.007199254740992e15"},
        {9007199254740991.0, "9007199254740991.0"},
        {4503599627370496.0, "4503599627370496.0"},
        {123456789012345.0, "123456789012345.0"},
        {1234567890123456.0, "1234567890123456.0"},
        {1.0e-10, "1.0e-10"},
        {1.5e300, "1.5e300"},
        {-1.0e-300, "-1.0e-300"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {1.7976931348623157e308, "1.7976931348623157e308"},
        {0.5, "0.5"},
        {1.0e16, "1.0e16"},
        {1.0e22, "1.0e22"},
        {123456789012345678.0, "1.2345678901234568e17"},
        {0.30000000000000004, "0.30000000000000004"},
    };
    for (const auto& [value, text] : floats)
        CHECK(to_string(Term(value)) == text);
}

TEST_CASE("pids, ports, references and funs print with their node's name") {
    Atom node = "node@host"_a;
    CHECK(to_string(Term(Pid{node, 85, 0, 3})) == "<node@host.85.0>");
    CHECK(to_string(Term(Port{node, 12, 1})) == "#Port<node@host.12>");
    Reference ref{node, 1, 3, {80703, 1130364930, 1045865219}};
    CHECK(to_string(Term(ref)) == "#Ref<node@host.1045865219.1130364930.80703>");
    // erl printed #Fun<p.0.103488833> for a fun of module p with index 0 and uniq 103488833.
    Closure fun;
    fun.module = "p"_a;
    fun.old_index = Term(0);
    fun.old_uniq = Term(103488833);
    CHECK(to_string(Term(fun)) == "#Fun<p.0.103488833>");
    CHECK(to_string(Term(ExportFun{"A"_a, "b c"_a, 0})) == "fun 'A':'b c'/0");
}

TEST_CASE("terms built in C++ print as erl prints them") {
    CHECK(to_string(tuple("ok"_a, list(1, 2))) == "{ok,[1,2]}");
    CHECK(to_string(charlist("héllo").value()) == "\"héllo\"");
    CHECK(to_string(charlist("日本").value()) == "[26085,26412]");
    CHECK(to_string(binary(std::string_view("üñí"))) == "<<\"Ã¼Ã±Ã\u00AD\">>");
    const std::uint8_t bits[] = {1, 0x40};
    CHECK(to_string(bitstring(bits, 3)) == "<<1,2:3>>");
    CHECK(to_string(Term(Atom::make("日本").value())) == "'\\x{65E5}\\x{672C}'");
    CHECK(to_string(Term(Atom::make("a\x01").value())) == "'a\\001'");
    CHECK(to_string(Term(*BigInt::parse("-123456789012345678901234567890"))) ==
          "-123456789012345678901234567890");
    std::ostringstream out;
    out << map({{"k"_a, list()}});
    CHECK(out.str() == "#{k => []}");
}

TEST_CASE("every data term survives printing and parsing") {
    RandomTerms random(20240601);
    for (int i = 0; i < 4000; ++i)
        check_round_trip(random.any(4));
}

TEST_CASE("every finite float survives printing and parsing bit for bit") {
    RandomTerms random(7);
    for (int i = 0; i < 100000; ++i) {
        double d = random.finite_double();
        std::string text = to_string(Term(d));
        auto back = parse_term(text);
        REQUIRE(back.has_value());
        INFO(text);
        CHECK(std::bit_cast<std::uint64_t>(back->to<double>().value()) ==
              std::bit_cast<std::uint64_t>(d));
    }
}

TEST_CASE("a million-deep list and tuple print and parse without using the call stack") {
    constexpr std::size_t depth = 1'000'000;
    Term nested_list;
    Term nested_tuple = tuple();
    for (std::size_t i = 0; i < depth; ++i) {
        nested_list = list(std::move(nested_list));
        nested_tuple = tuple(std::move(nested_tuple));
    }
    std::string list_text = to_string(nested_list);
    CHECK(list_text == std::string(depth, '[') + "[]" + std::string(depth, ']'));
    CHECK(parsed(list_text) == nested_list);
    std::string tuple_text = to_string(nested_tuple);
    CHECK(tuple_text.size() == 2 * depth + 2);
    CHECK(parsed(tuple_text) == nested_tuple);
    std::string maps;
    for (std::size_t i = 0; i < depth / 10; ++i)
        maps += "#{1=>";
    maps += "x" + std::string(depth / 10, '}');
    CHECK(to_string(parsed(maps)).size() == depth / 10 * 8 + 1);
}

TEST_CASE("text and the external term format share one nesting bound, max_term_depth") {
    // N nested lists around [] are N containers in both forms: "[" x N "[]" "]" x N, and N
    // LIST_EXT headers of one element each before the NIL_EXT.
    auto text_of = [](std::size_t depth) {
        return std::string(depth, '[') + "[]" + std::string(depth, ']');
    };
    auto etf_of = [](std::size_t depth) {
        std::vector<std::uint8_t> out{131};
        for (std::size_t i = 0; i < depth; ++i)
            out.insert(out.end(), {108, 0, 0, 0, 1});
        out.push_back(106);
        out.insert(out.end(), depth, 106);
        return out;
    };
    CHECK(etf::DecodeOptions{}.max_depth == max_term_depth);
    auto deepest_text = parse_term(text_of(max_term_depth));
    auto deepest_etf = etf::decode(etf_of(max_term_depth));
    REQUIRE(deepest_text.has_value());
    REQUIRE(deepest_etf.has_value());
    CHECK(*deepest_text == *deepest_etf);

    auto too_deep_text = parse_term(text_of(max_term_depth + 1));
    REQUIRE_FALSE(too_deep_text.has_value());
    CHECK(too_deep_text.error().message == "containers nested more than 2097152 deep");
    CHECK(too_deep_text.error().column == max_term_depth + 1);  // the first '[' too many
    auto too_deep_etf = etf::decode(etf_of(max_term_depth + 1));
    REQUIRE_FALSE(too_deep_etf.has_value());
    CHECK(too_deep_etf.error().code == etf::DecodeErrc::too_deep);

    // Brackets alone, ten million of them: refused at the bound, not read to the end.
    auto brackets = parse_term(std::string(10'000'000, '['));
    REQUIRE_FALSE(brackets.has_value());
    CHECK(brackets.error().column == max_term_depth + 1);
    CHECK(parse_term(std::string(max_term_depth, '{') + std::string(max_term_depth, '}'))
              .has_value());
    CHECK_FALSE(parse_term("#{a => " + std::string(max_term_depth, '[')).has_value());
}

TEST_CASE("literals parse to the terms they denote") {
    CHECK(parsed("{ok, [1, 2]}.") == tuple("ok"_a, list(1, 2)));
    CHECK(parsed("  % a comment\n {a, % another\n b} . % end") == tuple("a"_a, "b"_a));
    CHECK(parsed("\"a\" \"b\"\n\"c\"") == charlist("abc").value());
    CHECK(parsed("\"日本\"") == charlist("日本").value());
    CHECK(parsed("'日本'") == Term(Atom::make("日本").value()));
    CHECK(parsed("<<\"é\"/utf8>>") == binary(std::string_view("é")));
    CHECK(parsed("<<\"é\">>") == binary(std::string_view("\xE9")));
    CHECK(parsed("[a|b]") == list_from(std::vector<Term>{"a"_a}, "b"_a));
    CHECK(parsed("#{a => 1, \"b\" => []}") == map({{"a"_a, 1}, {charlist("b").value(), list()}}));
    CHECK(parsed("fun lists:map/2") == Term(ExportFun{"lists"_a, "map"_a, 2}));
    CHECK(parsed("<<1:4, 2:12>>") == binary(std::vector<std::uint8_t>{0x10, 0x02}));
    CHECK(parsed("-16#10") == Term(-16));
    CHECK(parsed("-9223372036854775808") == Term(std::numeric_limits<std::int64_t>::min()));
    CHECK(parsed("$\\^a") == Term(1));
    CHECK(parsed("$\\x{10FFFF}") == Term(0x10FFFF));
    CHECK(parsed("$\n") == Term(10));
    CHECK(parsed("'\\^^'") == Term(Atom::make("\x1e").value()));
    CHECK(parsed("<<0:0>>") == binary(std::string_view()));
    CHECK(parsed("<<0:8388608>>") == binary(std::vector<std::uint8_t>(1 << 20)));
}

TEST_CASE("a parse error names the line, the column and what was expected") {
    struct Case {
        std::string input;
        std::size_t line;
        std::size_t column;
        std::string_view message;
    };
    const Case cases[] = {
        {"", 1, 1, "expected a term, found end of input"},
        {"{1 2}", 1, 4, "expected ',' or '}', found number 2"},
        {"{1,", 1, 4, "expected a term, found end of input"},
        {"[1 2]", 1, 4, "expected ',', '|' or ']', found number 2"},
        {"[1|2,3]", 1, 5, "expected ']', found ','"},
        {"#{a 1}", 1, 5, "expected '=>', found number 1"},
        {"#{a => 1 b}", 1, 10, "expected ',' or '}', found atom b"},
        {"#[]", 1, 2, "expected '{' after '#', found '['"},
        {"{a,\n  b\n  c}", 3, 3, "expected ',' or '}', found atom c"},
        {"}", 1, 1, "expected a term, found '}'"},
        {"X", 1, 1, "expected a term, found variable X"},
        {"case", 1, 1, "'case' is a reserved word: quote it to make an atom"},
        {"-a", 1, 2, "expected a number after '-', found atom a"},
        {"1 2", 1, 3, "expected '.' or end of input, found number 2"},
        {"1. 2", 1, 4, "expected end of input after '.', found number 2"},
        {"{a;b}", 1, 3, "unexpected character ';'"},
        {"\n  \xff", 2, 3, "invalid UTF-8"},
        {"\"a\xc3\"", 1, 3, "invalid UTF-8"},
        {"$", 1, 1, "expected a character after '$'"},
        {"\"abc", 1, 1, "unterminated string"},
        {"'abc", 1, 1, "unterminated quoted atom"},
        {"\"\\", 1, 2, "unterminated escape sequence"},
        {"\"\\^", 1, 2, "unterminated escape sequence"},
        {"\"\\x{}\"", 1, 2, "invalid \\x{...} escape"},
        {"\"\\x{D800}\"", 1, 2, "invalid \\x{...} escape"},
        {"'\\x{110000}'", 1, 2, "invalid \\x{...} escape"},
        {"\"\\xg\"", 1, 2, "expected two hex digits or {...} after \\x"},
        {"37#1", 1, 1, "base must be 2 to 36, not 37"},
        {"1#0", 1, 1, "base must be 2 to 36, not 1"},
        {"16#g", 1, 4, "expected a digit of base 16 after '#'"},
        {"1.0e", 1, 5, "expected exponent digits"},
        {"1.0e400", 1, 1, "float out of range"},
        {"'" + std::string(256, 'a') + "'", 1, 1, "atom longer than 255 characters"},
        {"fun 1", 1, 5, "expected an atom, found number 1"},
        {"fun m f", 1, 7, "expected ':' in fun Module:Function/Arity, found atom f"},
        {"fun m:f 1", 1, 9, "expected '/' in fun Module:Function/Arity, found number 1"},
        {"fun m:f/256", 1, 9, "expected an arity from 0 to 255, found number 256"},
        {"<<a>>", 1, 3, "expected an integer, float or string segment, found atom a"},
        {"<<1 2>>", 1, 5, "expected ',' or '>>', found number 2"},
        {"<<-a>>", 1, 4, "expected a number after the sign, found atom a"},
        {"<<1:a>>", 1, 5, "expected a segment size up to 2^23, found atom a"},
        {"<<1/foo>>", 1, 5,
         "expected a type: integer, float, utf8, utf16, utf32, signed, unsigned, big, little, "
         "native or unit:N, found atom foo"},
        {"<<1:1/unit 8>>", 1, 12, "expected ':' after unit, found number 8"},
        {"<<1:1/unit:0>>", 1, 12, "expected a unit from 1 to 256, found number 0"},
        {"<<1:8/utf8>>", 1, 6, "utf segments take no size or unit"},
        {"<<1/unit:8>>", 1, 4, "a unit needs a size"},
        {"<<1.0:16/float>>", 1, 9, "float segments are 32 or 64 bits"},
        {"<<1.0/integer>>", 1, 3, "a float segment needs the float type"},
        {"<<1.0e300:32/float>>", 1, 3, "value does not fit a 32-bit float"},
        {"<<-1/utf8>>", 1, 3, "not a Unicode code point"},
        {"<<\"ab\":5000000>>", 1, 3, "size fields ask for more than 1 MiB"},
        {"<<1:8388609>>", 1, 5, "expected a segment size up to 2^23, found number 8388609"},
    };
    for (const auto& c : cases) {
        auto result = parse_term(c.input);
        INFO("input: ", c.input);
        REQUIRE_FALSE(result.has_value());
        CHECK(result.error().line == c.line);
        CHECK(result.error().column == c.column);
        CHECK(result.error().message == c.message);
    }
}

TEST_CASE("a parse error reads as line, column and message") {
    ParseError e{3, 7, "expected ']'"};
    CHECK(e.to_string() == "line 3, column 7: expected ']'");
}

TEST_CASE("an integer literal of more than a million digits is refused") {
    auto result = parse_term(std::string(1'000'001, '7'));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().message == "number has more than 1000000 digits");
}

TEST_CASE("a new atom is refused when the atom table is full") {
    std::size_t old_limit = AtomTable::limit();
    AtomTable::set_limit(AtomTable::size());
    auto refused = parse_term("'an atom nobody has made before, 6151'");
    auto existing = parse_term("ok");
    AtomTable::set_limit(old_limit);
    REQUIRE_FALSE(refused.has_value());
    CHECK(refused.error().message == "the atom table is full");
    CHECK(existing.has_value());
}
