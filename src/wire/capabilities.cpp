#include "wire/capabilities.hpp"

#include "wire/flags.hpp"

namespace distribute::wire {

namespace {

// One overload per control message, none generic: a message added to Control does not compile
// until it says what it needs.
struct Needs {
    static constexpr std::uint64_t monitors = flag::dist_monitor | flag::dist_monitor_name;

    std::uint64_t operator()(const Link&) const { return 0; }
    std::uint64_t operator()(const Send&) const { return 0; }
    std::uint64_t operator()(const SendSender&) const { return 0; }
    std::uint64_t operator()(const RegSend&) const { return 0; }
    std::uint64_t operator()(const Exit&) const { return 0; }
    std::uint64_t operator()(const Exit2&) const { return 0; }
    std::uint64_t operator()(const Unlink&) const { return 0; }
    std::uint64_t operator()(const NodeLink&) const { return 0; }
    std::uint64_t operator()(const GroupLeader&) const { return 0; }
    std::uint64_t operator()(const MonitorP&) const { return monitors; }
    std::uint64_t operator()(const DemonitorP&) const { return monitors; }
    std::uint64_t operator()(const MonitorPExit&) const { return monitors; }
    std::uint64_t operator()(const SpawnRequest&) const { return flag::spawn; }
    std::uint64_t operator()(const SpawnReply&) const { return flag::spawn; }
    std::uint64_t operator()(const AliasSend&) const { return flag::alias; }
    std::uint64_t operator()(const UnlinkId&) const { return flag::unlink_id; }
    std::uint64_t operator()(const UnlinkIdAck&) const { return flag::unlink_id; }
};

}  // namespace

std::uint64_t flags_needed(const Control& control) noexcept {
    return std::visit(Needs{}, control);
}

}  // namespace distribute::wire
