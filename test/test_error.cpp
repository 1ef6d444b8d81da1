// The error convention (distribute/error.hpp): a category made from a module's messages, the
// shared code-and-detail struct, and every category of the library held to the convention.
#include <doctest/doctest.h>

#include <set>
#include <string>
#include <system_error>
#include <vector>

#include "distribute.hpp"
#include "net/connector.hpp"
#include "wire/control.hpp"
#include "wire/epmd_codec.hpp"
#include "wire/frame_error.hpp"
#include "wire/handshake.hpp"

using namespace distribute;

namespace fruit {

enum class FruitErrc { bruised = 1, sour };

const char* message_of(FruitErrc e) noexcept {
    switch (e) {
        case FruitErrc::bruised:
            return "the fruit is bruised";
        case FruitErrc::sour:
            return "the fruit is sour";
    }
    return nullptr;
}

const std::error_category& fruit_category() noexcept {
    static const ErrorCategory<FruitErrc> category("test.fruit", message_of);
    return category;
}

std::error_code make_error_code(FruitErrc e) noexcept {
    return {static_cast<int>(e), fruit_category()};
}

using FruitError = CodedError<FruitErrc>;

}  // namespace fruit

template <>
struct std::is_error_code_enum<fruit::FruitErrc> : std::true_type {};

namespace {

using fruit::FruitErrc;

// One category of the library: its name and its codes, 1 to `last`.
struct CategoryCase {
    const std::error_category& category;
    const char* name;
    int last;
};

std::vector<CategoryCase> library_categories() {
    return {
        {atom_category(), "distribute.atom", static_cast<int>(AtomErrc::not_existing)},
        {etf::decode_category(), "distribute.etf",
         static_cast<int>(etf::DecodeErrc::too_many_atoms)},
        {wire::frame_category(), "distribute.frame",
         static_cast<int>(wire::FrameErrc::reassembly_limit)},
        {wire::control_category(), "distribute.control",
         static_cast<int>(wire::ControlErrc::unexpected_payload)},
        {wire::epmd::codec_category(), "distribute.epmd_codec",
         static_cast<int>(wire::epmd::CodecErrc::bad_reply)},
        {wire::handshake_category(), "distribute.handshake",
         static_cast<int>(wire::HandshakeErrc::lost_race)},
        {crypto_category(), "distribute.crypto", static_cast<int>(CryptoErrc::no_memory)},
        {pool_category(), "distribute.pool", static_cast<int>(PoolErrc::create_failed)},
        {epmd_category(), "distribute.epmd", static_cast<int>(EpmdErrc::bad_extra)},
        {net::dial_category(), "distribute.dial", static_cast<int>(net::DialErrc::old_version)},
        {node_category(), "distribute.node", static_cast<int>(NodeErrc::crypto_failed)},
        {receive_category(), "distribute.receive", static_cast<int>(ReceiveErrc::node_thread)},
        {call_category(), "distribute.call", static_cast<int>(CallErrc::circuit_open)},
        {rpc_category(), "distribute.rpc", static_cast<int>(RpcErrc::node_thread)},
        {groups_category(), "distribute.groups", static_cast<int>(GroupsErrc::not_running)},
        {global_category(), "distribute.global", static_cast<int>(GlobalErrc::timeout)},
        {start_category(), "distribute.start", static_cast<int>(StartErrc::timeout)},
        {supervisor_category(), "distribute.supervisor",
         static_cast<int>(SupervisorErrc::bad_reply)},
        {sys_category(), "distribute.sys", static_cast<int>(SysErrc::refused)},
        {subject_category(), "distribute.subject", static_cast<int>(SubjectErrc::decode_failed)},
        {send_category(), "distribute.send", static_cast<int>(SendErrc::circuit_open)},
        {envelope_category(), "distribute.envelope", static_cast<int>(EnvelopeErrc::bad_payload)},
        {registry_category(), "distribute.registry", static_cast<int>(RegistryErrc::timeout)},
        {call_pool_category(), "distribute.call_pool", static_cast<int>(CallPoolErrc::call_failed)},
        {discovery_category(), "distribute.discovery", static_cast<int>(DiscoveryErrc::bad_config)},
        {cluster_category(), "distribute.cluster", static_cast<int>(ClusterErrc::not_running)},
        {startup_category(), "distribute.startup", static_cast<int>(StartupErrc::discovery_failed)},
    };
}

}  // namespace

TEST_SUITE("error") {
    TEST_CASE("a category made from a messages table has its name and each code's message") {
        CHECK(std::string(fruit::fruit_category().name()) == "test.fruit");
        CHECK(make_error_code(FruitErrc::bruised).message() == "the fruit is bruised");
        CHECK(make_error_code(FruitErrc::sour).message() == "the fruit is sour");
    }

    TEST_CASE("a value that is no code gets a message naming the category and the value") {
        CHECK(std::error_code(7, fruit::fruit_category()).message() ==
              "unknown test.fruit error 7");
        CHECK(std::error_code(0, node_category()).message() == "unknown distribute.node error 0");
    }

    TEST_CASE("a code compares with std::error_code by category and value, not by value alone") {
        const std::error_code sour = FruitErrc::sour;
        CHECK(sour == FruitErrc::sour);
        CHECK(sour != FruitErrc::bruised);
        CHECK(sour.category() == fruit::fruit_category());
        CHECK(sour.value() == 2);
        CHECK(sour != std::error_code(2, std::generic_category()));
        CHECK(bool(sour));  // codes start at 1: no code reads as success
        // Two modules' codes with the same value are different errors.
        CHECK(static_cast<int>(NodeErrc::bad_name) == static_cast<int>(EpmdErrc::name_taken));
        CHECK(std::error_code(NodeErrc::bad_name) != std::error_code(EpmdErrc::name_taken));
    }

    TEST_CASE("the shared error struct says its code's message, then its detail") {
        const fruit::FruitError error{FruitErrc::sour, "lemon #3"};
        CHECK(error.error_code() == FruitErrc::sour);
        CHECK(error.to_string() == "the fruit is sour: lemon #3");
        CHECK(fruit::FruitError{FruitErrc::bruised, ""}.to_string() == "the fruit is bruised");
        const NodeError node{NodeErrc::no_epmd, "localhost:4369"};
        CHECK(node.to_string() == "no EPMD on the node's host: localhost:4369");
    }

    TEST_CASE("every category of the library is named distribute.* and has a message per code") {
        std::set<std::string> names;
        for (const CategoryCase& c : library_categories()) {
            const std::string name = c.name;
            CAPTURE(name);
            auto unknown = [&](int code) {
                return "unknown " + name + " error " + std::to_string(code);
            };
            CHECK(std::string(c.category.name()) == c.name);
            CHECK(names.insert(c.name).second);
            std::set<std::string> messages;
            for (int code = 1; code <= c.last; ++code) {
                CAPTURE(code);
                const std::string message = c.category.message(code);
                CHECK(message != unknown(code));
                CHECK(messages.insert(message).second);  // no two codes read alike
            }
            CHECK(c.category.message(c.last + 1) == unknown(c.last + 1));
        }
    }
}
