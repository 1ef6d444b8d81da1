// The public Node: a handle on the runtime.
#include "distribute/node.hpp"

#include <future>

#include "node/runtime.hpp"

namespace distribute {

namespace {

const char* message_of(NodeErrc e) noexcept {
    switch (e) {
        case NodeErrc::bad_name:
            return "bad node name";
        case NodeErrc::no_cookie:
            return "no cookie";
        case NodeErrc::listen_failed:
            return "cannot listen for connections";
        case NodeErrc::epmd_failed:
            return "cannot register with EPMD";
        case NodeErrc::not_running:
            return "the node is not running";
        case NodeErrc::connect_failed:
            return "cannot connect to the node";
        case NodeErrc::timeout:
            return "timed out";
        case NodeErrc::name_taken:
            return "the name is registered already";
        case NodeErrc::not_alive:
            return "the process is not alive";
        case NodeErrc::node_thread:
            return "a blocking operation on one of the node's threads";
        case NodeErrc::no_epmd:
            return "no EPMD on the node's host";
        case NodeErrc::not_registered:
            return "the name is not registered with the host's EPMD";
        case NodeErrc::wrong_cookie:
            return "the handshake failed: wrong cookie?";
        case NodeErrc::unreachable:
            return "the node is unreachable";
        case NodeErrc::crypto_failed:
            return "no encrypted connection";
    }
    return nullptr;
}

}  // namespace

const std::error_category& node_category() noexcept {
    static const ErrorCategory<NodeErrc> category("distribute.node", message_of);
    return category;
}

std::error_code make_error_code(NodeErrc e) noexcept {
    return {static_cast<int>(e), node_category()};
}

Node::Node(std::shared_ptr<node::Runtime> runtime) : runtime_(std::move(runtime)) {}
Node::Node(Node&&) noexcept = default;
Node& Node::operator=(Node&& other) noexcept {
    if (this != &other) {
        if (runtime_) runtime_->stop();
        runtime_ = std::move(other.runtime_);
    }
    return *this;
}

Node::~Node() {
    if (runtime_) runtime_->stop();
}

void Node::stop() {
    runtime_->stop();
}

Atom Node::name() const {
    return runtime_->name();
}

std::uint32_t Node::creation() const {
    return runtime_->creation();
}

std::uint16_t Node::port() const {
    return runtime_->port();
}

Mailbox Node::open_mailbox() {
    return Mailbox(runtime_->spawn_mailbox());
}

ProcessHandle Node::spawn(Handler handler, bool trap_exit) {
    return ProcessHandle(runtime_->spawn_handler(std::move(handler), trap_exit));
}

Expected<void, NodeError> Node::register_name(Atom name, const Pid& pid) {
    return runtime_->register_name(name, pid);
}

bool Node::unregister_name(Atom name) {
    return runtime_->unregister_name(name);
}

std::optional<Pid> Node::whereis(Atom name) const {
    if (auto process = runtime_->whereis(name)) return process->pid;
    return std::nullopt;
}

void Node::set_name_resolver(Atom registry, NameResolver resolver) {
    runtime_->set_name_resolver(registry, std::move(resolver));
}

std::vector<Atom> Node::nodes() const {
    return runtime_->connected(false);
}

std::vector<Atom> Node::hidden_nodes() const {
    return runtime_->connected(true);
}

Expected<void, NodeError> Node::connect(Atom node, std::chrono::milliseconds timeout) {
    if (runtime_->stopped()) return unexpected(NodeError{NodeErrc::not_running, "stopped"});
    if (node::on_node_thread())
        return unexpected(
            NodeError{NodeErrc::node_thread, "connect() would block one of the node's threads"});
    auto result = std::make_shared<std::promise<Expected<void, NodeError>>>();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    runtime_->async_connect(node, [result, answered](Expected<void, NodeError> up) {
        if (!answered->exchange(true)) result->set_value(std::move(up));
    });
    auto future = result->get_future();
    if (future.wait_for(timeout) != std::future_status::ready)
        return unexpected(NodeError{NodeErrc::timeout,
                                    "no connection to " + std::string(node.name()) + " in time"});
    return future.get();
}

bool Node::disconnect(Atom node) {
    return runtime_->disconnect(node);
}

void Node::set_cookie(Atom node, std::string cookie) {
    runtime_->set_cookie(node, std::move(cookie));
}

std::uint64_t Node::on_node_event(std::function<void(const NodeEvent&)> callback) {
    return runtime_->on_node_event(std::move(callback));
}

void Node::unsubscribe(std::uint64_t id) {
    runtime_->unsubscribe(id);
}

void Node::monitor_nodes(const Pid& pid, bool enable) {
    runtime_->monitor_nodes(pid, enable);
}

void Node::monitor_node(const Pid& pid, Atom node, bool enable) {
    runtime_->monitor_node(pid, node, enable);
}

NodeLimits Node::limits() const {
    return runtime_->limits();
}

void Node::set_limits(const NodeLimits& limits) {
    runtime_->set_limits(limits);
}

NodeStats Node::stats() const {
    return runtime_->stats();
}

boost::asio::io_context& Node::io() {
    return runtime_->io();
}

}  // namespace distribute
