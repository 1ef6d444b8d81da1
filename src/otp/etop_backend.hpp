// What OTP's etop (in the observer application) asks of the node it watches, answered for this
// node's C++ processes: observer_backend:vsn/0, and a spawn of
// observer_backend:etop_collect(Collector), whose process sends Collector {self(), #etop_info{}}
// (runtime_tools' observer_backend.hrl) with one #etop_proc_info{} per process. etop then shows
// our processes in text mode (`etop:start([{node, N}, {output, text}, {tracing, off}])`).
//
// Not available, with a clear error instead of undef (error {notsup, Why} through rpc): the
// observer GUI's own calls (observer_backend:sys_info/0, procs_info/1, get_table_list/2,
// fetch_stats/2, get_port_list/0, get_socket_list/0). etop's default tracing needs dbg's trace
// port on the watched node, which a C++ node has none of: etop must be started with
// {tracing, off}.
#pragma once

namespace distribute::otp {

class RpcServer;

void register_etop_backend(RpcServer& server);

}  // namespace distribute::otp
