#include "otp/rpc_shapes.hpp"

#include <string>

namespace distribute::otp {

namespace {

// Made on first use: the atom table may not exist yet while statics are initialised.
struct Names {
    Atom return_ = Atom::make("return").value();
    Atom exception = Atom::make("exception").value();
    Atom nocatch = Atom::make("nocatch").value();
    Atom erpc = Atom::make("erpc").value();
    Atom execute_cast = Atom::make("execute_cast").value();
    Atom nodedown = Atom::make("nodedown").value();
};
const Names& n() {
    static const Names names;
    return names;
}

// The frame a BEAM adds below an exception that escapes a process's first function.
Term cast_stack() {
    return one_frame_stack(n().erpc, n().execute_cast, Term(3));
}

bool frame_of(const Term& frame, Atom module, Atom function) {
    return frame.is_tuple(4) && frame[0].is_atom(module) && frame[1].is_atom(function);
}

}  // namespace

Term one_frame_stack(Atom module, Atom function, Term args_or_arity) {
    return list(tuple(module, function, std::move(args_or_arity), Term()));
}

RpcRaise undef_raise(Atom module, Atom function, const Term& args) {
    return RpcRaise{atoms::error, Term(atoms::undef), one_frame_stack(module, function, args)};
}

RpcResult with_stack(RpcResult result, Atom module, Atom function, std::size_t arity) {
    if (result) return result;
    RpcRaise raise = std::move(result).error();
    if (raise.kind == atoms::error && !raise.stack)
        raise.stack = one_frame_stack(module, function, Term(arity));
    return unexpected(std::move(raise));
}

Term erpc_call_reason(const Term& res, const RpcResult& result) {
    if (result) return tuple(res, n().return_, *result);
    const RpcRaise& raise = result.error();
    if (raise.kind == atoms::throw_) return tuple(res, atoms::throw_, raise.reason);
    if (raise.kind == atoms::exit) return tuple(res, atoms::exit, raise.reason);
    return tuple(res, atoms::error, raise.reason, raise.stack.value_or(Term()));
}

Term erpc_cast_reason(const RpcResult& result) {
    if (result) return Term(atoms::normal);
    const RpcRaise& raise = result.error();
    if (raise.kind == atoms::throw_) return tuple(tuple(n().nocatch, raise.reason), cast_stack());
    if (raise.kind == atoms::exit) return raise.reason;
    return tuple(tuple(n().exception, tuple(raise.reason, raise.stack.value_or(Term()))),
                 cast_stack());
}

Term rex_reply(const RpcResult& result) {
    if (result) return *result;
    const RpcRaise& raise = result.error();
    if (raise.kind == atoms::throw_) return raise.reason;
    if (raise.kind == atoms::exit) return tuple(atoms::badrpc, tuple(atoms::EXIT, raise.reason));
    return tuple(atoms::badrpc,
                 tuple(atoms::EXIT, tuple(raise.reason, raise.stack.value_or(Term()))));
}

Expected<Term, RpcError> read_rex_reply(const Term& reply, Atom node, Atom module, Atom function) {
    if (!reply.is_tuple(2) || !reply[0].is_atom(atoms::badrpc)) return reply;
    const std::string where = " in " + std::string(node.name());
    const Term& why = reply[1];
    if (why.is_atom(n().nodedown))
        return unexpected(RpcError{RpcErrc::nodedown, Atom(), Term(atoms::noconnection), Term(),
                                   std::string(node.name()) + " is down"});
    if (!why.is_tuple(2) || !why[0].is_atom(atoms::EXIT)) return reply;
    const Term& exit = why[1];
    const bool with_stack = exit.is_tuple(2) && exit[1].is_proper_list() &&
                            !exit[1].elements().empty() && exit[1].elements()[0].is_tuple(4);
    if (!with_stack)
        return unexpected(RpcError{RpcErrc::exception, atoms::exit, exit, Term(),
                                   "exit: " + to_string(exit) + where});
    const Term& stack = exit[1];
    if (exit[0].is_atom(atoms::undef) && frame_of(stack.elements()[0], module, function))
        return unexpected(RpcError{RpcErrc::undef, atoms::error, exit[0], stack,
                                   "undefined function " + to_string(stack.elements()[0]) + where});
    return unexpected(RpcError{RpcErrc::exception, atoms::error, exit[0], stack,
                               "error: " + to_string(exit[0]) + where});
}

Expected<Term, RpcError> read_erpc_down(const Term& res, const Term& reason, Atom node, Atom module,
                                        Atom function) {
    const std::string where = " in " + std::string(node.name());
    if (reason.is_tuple() && !reason.elements().empty() && reason[0] == res) {
        if (reason.is_tuple(3) && reason[1].is_atom(n().return_)) return reason[2];
        if (reason.is_tuple(3) && reason[1].is_atom(atoms::throw_))
            return unexpected(RpcError{RpcErrc::exception, atoms::throw_, reason[2], Term(),
                                       "throw: " + to_string(reason[2]) + where});
        if (reason.is_tuple(3) && reason[1].is_atom(atoms::exit))
            return unexpected(RpcError{RpcErrc::exception, atoms::exit, reason[2], Term(),
                                       "exit: " + to_string(reason[2]) + where});
        if (reason.is_tuple(4) && reason[1].is_atom(atoms::error)) {
            const Term& stack = reason[3];
            // undef for the function called, not for one it called in turn.
            if (reason[2].is_atom(atoms::undef) && !stack.elements().empty() &&
                frame_of(stack.elements()[0], module, function))
                return unexpected(
                    RpcError{RpcErrc::undef, atoms::error, reason[2], stack,
                             "undefined function " + to_string(stack.elements()[0]) + where});
            return unexpected(RpcError{RpcErrc::exception, atoms::error, reason[2], stack,
                                       "error: " + to_string(reason[2]) + where});
        }
        // {Res, error, {erpc, Reason}}: erpc itself failed there (system_limit on the arguments).
        if (reason.is_tuple(3) && reason[1].is_atom(atoms::error))
            return unexpected(RpcError{RpcErrc::exception, atoms::error, reason[2], Term(),
                                       "erpc: " + to_string(reason[2]) + where});
    }
    if (reason.is_atom(atoms::noconnection))
        return unexpected(RpcError{
            RpcErrc::nodedown, Atom(), reason, Term(),
            "the connection to " + std::string(node.name()) + " went down during the call"});
    // Killed from outside, or gone before it could answer: erpc raises exit({signal, Reason}).
    return unexpected(
        RpcError{RpcErrc::exception, atoms::exit, reason, Term(),
                 "the process running the call" + where + " ended with " + to_string(reason)});
}

RpcError spawn_error(const Term& reason, Atom node) {
    if (reason.is_atom(atoms::noconnection))
        return RpcError{RpcErrc::nodedown, Atom(), reason, Term(),
                        "cannot reach " + std::string(node.name())};
    return RpcError{RpcErrc::refused, Atom(), reason, Term(),
                    std::string(node.name()) + " refused the call: " + to_string(reason)};
}

RpcError rpc_timeout(Atom node) {
    return RpcError{RpcErrc::timeout, Atom(), Term(atoms::timeout), Term(),
                    "no answer from " + std::string(node.name()) + " in time"};
}

CallError call_down_error(const Term& reason, Atom node) {
    if (reason.is_atom(atoms::noproc))
        return CallError{CallErrc::noproc, reason, "no such process"};
    if (reason.is_atom(atoms::noconnection))
        return CallError{CallErrc::nodedown, tuple(n().nodedown, node),
                         "cannot reach " + std::string(node.name())};
    return CallError{CallErrc::exited, reason,
                     "the server exited during the call: " + to_string(reason)};
}

}  // namespace distribute::otp
