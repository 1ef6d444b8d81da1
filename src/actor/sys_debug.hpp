// sys's debug options for one process (OTP 25, sys.erl's debug_cmd and handle_debug): trace
// (each event printed as a log line), log (the last N events kept), log_to_file, statistics
// (messages in and out since they were turned on). The process reports its events, gen_server's
// {in, Msg}, {out, Reply, From, State} and {noreply, State}; this keeps, prints or counts them as
// the options say, and serves sys's {debug, What} requests.
#pragma once

#include <cstdint>
#include <deque>
#include <fstream>
#include <optional>
#include <string>

#include "distribute/mailbox.hpp"
#include "distribute/term.hpp"

namespace distribute::actor_detail {

class SysDebug {
  public:
    // No option on: the process need not build its events at all.
    bool active() const { return trace_ || log_size_ || file_ || statistics_; }

    // sys's {debug, What}: the reply sys expects (ok, {ok, ...}, {error, open_file}, or
    // unknown_debug for a What sys does not know). Printing (log print) goes to `self`'s node
    // log, each line prefixed with `label`, as trace does.
    Term command(const ProcessHandle& self, const std::string& label, const Term& what);

    // One event of the process; `label` names it in printed lines (its name, else its pid).
    void event(const ProcessHandle& self, const std::string& label, const Term& event);

    // The Debug of sys:get_status: [{trace, true}, {log, {N, Events}}, {log_to_file, File},
    // {statistics, {StartTime, {reductions, 0}, In, Out}}], each when it is on.
    Term options() const;
    // The events the log keeps, oldest first ([] when log is off).
    Term logged_events() const;

  private:
    struct Statistics {
        Term start_time;  // {{Y, M, D}, {H, Mi, S}}, local time
        std::int64_t in = 0;
        std::int64_t out = 0;
    };

    void print(const ProcessHandle& self, const std::string& line);
    Term statistics_report() const;

    bool trace_ = false;
    std::size_t log_size_ = 0;  // 0: log off
    std::deque<Term> log_;
    std::optional<std::ofstream> file_;
    std::string file_name_;
    std::optional<Statistics> statistics_;
};

// How gen_server prints an event for trace and log print: "*DBG* Name got call ... from ...".
std::string describe_event(const std::string& label, const Term& event);

}  // namespace distribute::actor_detail
