#include "actor/system_message.hpp"

namespace distribute::actor_detail {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

void classify(SystemMessage& sys) {
    static const Atom terminate = atom("terminate");
    static const Atom suspend = atom("suspend");
    static const Atom resume = atom("resume");
    static const Atom get_state = atom("get_state");
    static const Atom replace_state = atom("replace_state");
    static const Atom get_status = atom("get_status");
    static const Atom debug = atom("debug");
    static const Atom change_code = atom("change_code");
    const Term& r = sys.request;
    auto with_arg = [&](SysRequest kind, Atom tag) {
        if (!r.is_tuple(2) || !r[0].is_atom(tag)) return false;
        sys.kind = kind;
        sys.arg = r[1];
        return true;
    };
    if (r.is_atom(suspend)) sys.kind = SysRequest::suspend;
    if (r.is_atom(resume)) sys.kind = SysRequest::resume;
    if (r.is_atom(get_state)) sys.kind = SysRequest::get_state;
    if (r.is_atom(get_status)) sys.kind = SysRequest::get_status;
    if (with_arg(SysRequest::terminate, terminate) ||
        with_arg(SysRequest::replace_state, replace_state) || with_arg(SysRequest::debug, debug))
        return;
    if (r.is_tuple(4) && r[0].is_atom(change_code)) {
        sys.kind = SysRequest::change_code;
        sys.arg = r[2];
        sys.extra = r[3];
    }
}

}  // namespace

std::optional<SystemMessage> system_message(const ProcessHandle& self, const Term& message) {
    static const Atom system = atom("system");
    if (!message.is_tuple(3) || !message[0].is_atom(system) || !message[1].is_tuple(2))
        return std::nullopt;
    SystemMessage sys;
    sys.request = message[2];
    if (auto caller = message[1][0].to<Pid>()) sys.from = From(self, *caller, message[1][1]);
    classify(sys);
    return sys;
}

Term unknown_system_msg(const Term& request) {
    static const Atom unknown = atom("unknown_system_msg");
    return tuple(atoms::error, tuple(unknown, request));
}

}  // namespace distribute::actor_detail
