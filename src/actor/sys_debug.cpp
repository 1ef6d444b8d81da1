// sys's debug options, after OTP 25's sys.erl (debug_cmd, handle_debug, stat) and gen_server's
// print_event for the lines trace prints.
#include "actor/sys_debug.hpp"

#include <ctime>
#include <vector>

#include "node/access.hpp"

namespace distribute::actor_detail {

namespace {

Atom atom(const char* name) {
    return Atom::make(name).value();
}

// erlang:localtime(): {{Year, Month, Day}, {Hour, Minute, Second}}.
Term local_datetime() {
    const std::time_t now = std::time(nullptr);
    std::tm t{};
    localtime_r(&now, &t);
    return tuple(tuple(t.tm_year + 1900, t.tm_mon + 1, t.tm_mday),
                 tuple(t.tm_hour, t.tm_min, t.tm_sec));
}

// sys's default log size.
constexpr std::size_t default_log_size = 10;

Term list_of(const std::deque<Term>& items) {
    const std::vector<Term> v(items.begin(), items.end());
    return list_from(v);
}

}  // namespace

std::string describe_event(const std::string& label, const Term& event) {
    static const Atom in = atom("in");
    static const Atom out = atom("out");
    static const Atom noreply = atom("noreply");
    const std::string head = "*DBG* " + label + " ";
    if (auto e = event.tagged<Term>(in)) {
        const Term& m = std::get<0>(*e);
        if (m.is_tuple(3) && m[0].is_atom(atoms::gen_call) && m[1].is_tuple(2))
            return head + "got call " + to_string(m[2]) + " from " + to_string(m[1][0]);
        if (m.is_tuple(2) && m[0].is_atom(atoms::gen_cast))
            return head + "got cast " + to_string(m[1]);
        return head + "got " + to_string(m);
    }
    if (auto e = event.tagged<Term, Term, Term>(out)) {
        const auto& [reply, from, state] = *e;
        const std::string to = from.is_tuple(2) ? to_string(from[0]) : to_string(from);
        return head + "sent " + to_string(reply) + " to " + to + ", new state " + to_string(state);
    }
    if (auto e = event.tagged<Term>(noreply))
        return head + "new state " + to_string(std::get<0>(*e));
    return head + "dbg  " + to_string(event);
}

Term SysDebug::command(const ProcessHandle& self, const std::string& label, const Term& what) {
    static const Atom trace = atom("trace");
    static const Atom log = atom("log");
    static const Atom log_to_file = atom("log_to_file");
    static const Atom statistics = atom("statistics");
    static const Atom no_debug = atom("no_debug");
    static const Atom install = atom("install");
    static const Atom remove = atom("remove");
    static const Atom print_flag = atom("print");
    static const Atom get = atom("get");
    static const Atom unknown_debug = atom("unknown_debug");
    static const Atom open_file = atom("open_file");
    const Term ok(atoms::ok);
    if (what.is_atom(no_debug)) {
        *this = SysDebug{};
        return ok;
    }
    if (!what.is_tuple(2) || !what[0].is_atom()) return Term(unknown_debug);
    const Term& flag = what[1];
    if (what[0].is_atom(trace) && (flag.is_atom(atoms::true_) || flag.is_atom(atoms::false_))) {
        trace_ = flag.is_atom(atoms::true_);
        return ok;
    }
    if (what[0].is_atom(log)) {
        std::size_t size = 0;
        if (flag.is_atom(atoms::true_)) size = default_log_size;
        if (auto n = flag.tagged<std::int64_t>(atoms::true_); n && std::get<0>(*n) >= 1)
            size = static_cast<std::size_t>(std::get<0>(*n));
        if (size) {
            // As sys: a log already on keeps its newest events, up to the new size.
            log_size_ = size;
            while (log_.size() > log_size_)
                log_.pop_front();
            return ok;
        }
        if (flag.is_atom(atoms::false_)) {
            log_size_ = 0;
            log_.clear();
            return ok;
        }
        if (flag.is_atom(print_flag)) {
            for (const auto& e : log_)
                print(self, describe_event(label, e));
            return ok;
        }
        if (flag.is_atom(get)) return tuple(atoms::ok, logged_events());
        return Term(unknown_debug);
    }
    if (what[0].is_atom(log_to_file)) {
        file_.reset();
        file_name_.clear();
        if (flag.is_atom(atoms::false_)) return ok;
        auto name = flag.is_atom()
                        ? std::optional<std::string>(std::string(flag.to<Atom>()->name()))
                        : flag.to<std::string>();
        if (!name) return tuple(atoms::error, open_file);
        std::ofstream file(*name, std::ios::out | std::ios::trunc);
        if (!file) return tuple(atoms::error, open_file);
        file_ = std::move(file);
        file_name_ = *name;
        return ok;
    }
    if (what[0].is_atom(statistics)) {
        if (flag.is_atom(atoms::true_)) {
            // As sys's install_debug: turning it on again keeps the counts.
            if (!statistics_) statistics_ = Statistics{local_datetime()};
            return ok;
        }
        if (flag.is_atom(atoms::false_)) {
            statistics_.reset();
            return ok;
        }
        if (flag.is_atom(get)) return tuple(atoms::ok, statistics_report());
        return Term(unknown_debug);
    }
    // A fun cannot run here. sys drops an installed fun that fails on an event; this one is
    // dropped at once, and removing it again is ok.
    if (what[0].is_atom(install) || what[0].is_atom(remove)) return ok;
    return Term(unknown_debug);
}

void SysDebug::event(const ProcessHandle& self, const std::string& label, const Term& event) {
    static const Atom in = atom("in");
    static const Atom out = atom("out");
    if (trace_ || file_) {
        const std::string line = describe_event(label, event);
        if (trace_) print(self, line);
        if (file_) *file_ << line << '\n' << std::flush;
    }
    if (log_size_) {
        log_.push_back(event);
        if (log_.size() > log_size_) log_.pop_front();
    }
    if (statistics_ && event.is_tuple() && event.elements().size() >= 2) {
        if (event[0].is_atom(in)) ++statistics_->in;
        if (event[0].is_atom(out)) ++statistics_->out;
    }
}

Term SysDebug::options() const {
    std::vector<Term> items;
    if (trace_) items.push_back(tuple(atom("trace"), atoms::true_));
    if (log_size_)
        items.push_back(
            tuple(atom("log"), tuple(static_cast<std::int64_t>(log_size_), logged_events())));
    if (file_)
        items.push_back(
            tuple(atom("log_to_file"), charlist(file_name_).value_or(binary(file_name_))));
    if (statistics_)
        items.push_back(
            tuple(atom("statistics"), tuple(statistics_->start_time, tuple(atom("reductions"), 0),
                                            statistics_->in, statistics_->out)));
    return list_from(items);
}

Term SysDebug::logged_events() const {
    return list_of(log_);
}

void SysDebug::print(const ProcessHandle& self, const std::string& line) {
    node::Access::process(self).runtime.log(LogLevel::info, line);
}

// sys:statistics(Name, get): reductions are 0, since C++ code has none to count.
Term SysDebug::statistics_report() const {
    if (!statistics_) return Term(atom("no_statistics"));
    return list(tuple(atom("start_time"), statistics_->start_time),
                tuple(atom("current_time"), local_datetime()), tuple(atom("reductions"), 0),
                tuple(atom("messages_in"), statistics_->in),
                tuple(atom("messages_out"), statistics_->out));
}

}  // namespace distribute::actor_detail
