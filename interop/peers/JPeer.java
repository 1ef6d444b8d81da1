// A JInterface node for the interop tests (Debian's erlang-jinterface, OtpErlang.jar): OtpNode
// and OtpMbox as Java programs use them. It prints one line on stdout for everything it does
// or receives, which the tests read.
//
//   java JPeer serve NAME@HOST COOKIE
//       A node registered with EPMD ($ERL_EPMD_PORT) whose mailboxes serve every connection
//       (net_adm:ping is answered by JInterface itself):
//         echo   {From, Msg} -> Msg to From
//         self   From -> {self, ItsPid} to From
//         kv     {'$gen_call', {From, Tag}, Req} -> {Tag, {java_node, Req}}   (gen_server)
//         rex    {'$gen_call', {From, Tag}, {call, M, F, A, GL}} -> {Tag, Result}, where
//                erlang:node() and demo:echo(X) answer and anything else is undef
//         inbox  printed: "got inbox TERM"
//       Prints "ready NODE", "up NODE" and "down NODE" as connections come and go.
//   java JPeer connect NAME@HOST COOKIE TARGET
//       Prints "ping pong|pang", "echo TERM" (from TARGET's echo), "rpc TERM" for erlang:node()
//       and for demo:echo([1, two]) through rex, and exits 0.
import com.ericsson.otp.erlang.*;

public class JPeer {
    static synchronized void say(String line) {
        System.out.println(line);
        System.out.flush();
    }

    static OtpErlangAtom atom(String name) { return new OtpErlangAtom(name); }

    static OtpErlangTuple tuple(OtpErlangObject... elements) {
        return new OtpErlangTuple(elements);
    }

    // {'$gen_call', {From, Tag}, Request}, or null.
    static OtpErlangObject[] genCall(OtpErlangObject message) {
        if (!(message instanceof OtpErlangTuple)) return null;
        OtpErlangTuple t = (OtpErlangTuple) message;
        if (t.arity() != 3 || !atom("$gen_call").equals(t.elementAt(0))) return null;
        if (!(t.elementAt(1) instanceof OtpErlangTuple)) return null;
        OtpErlangTuple from = (OtpErlangTuple) t.elementAt(1);
        if (from.arity() != 2 || !(from.elementAt(0) instanceof OtpErlangPid)) return null;
        return new OtpErlangObject[] {from.elementAt(0), from.elementAt(1), t.elementAt(2)};
    }

    // rex's {call, M, F, A, GL}: erlang:node() and demo:echo(X); undef otherwise.
    static OtpErlangObject rexCall(OtpNode node, OtpErlangObject request) {
        OtpErlangTuple call = (OtpErlangTuple) request;
        OtpErlangObject module = call.elementAt(1), function = call.elementAt(2);
        OtpErlangObject args = call.elementAt(3);
        int arity = args instanceof OtpErlangList ? ((OtpErlangList) args).arity()
            : args instanceof OtpErlangString     ? ((OtpErlangString) args).stringValue().length()
                                                  : 0;
        if (atom("erlang").equals(module) && atom("node").equals(function) && arity == 0)
            return atom(node.node());
        if (atom("demo").equals(module) && atom("echo").equals(function) && arity == 1
            && args instanceof OtpErlangList)
            return ((OtpErlangList) args).elementAt(0);
        OtpErlangObject frame = tuple(module, function, args, new OtpErlangList());
        return tuple(atom("badrpc"),
            tuple(atom("EXIT"),
                tuple(atom("undef"), new OtpErlangList(new OtpErlangObject[] {frame}))));
    }

    static void serveMbox(OtpNode node, String name) {
        OtpMbox mbox = node.createMbox(name);
        Thread thread = new Thread(() -> {
            for (;;) {
                OtpErlangObject message;
                try {
                    message = mbox.receive();
                } catch (Exception e) {
                    say("error " + name + ": " + e);
                    return;
                }
                OtpErlangObject[] call = genCall(message);
                if (name.equals("echo") && message instanceof OtpErlangTuple
                    && ((OtpErlangTuple) message).arity() == 2
                    && ((OtpErlangTuple) message).elementAt(0) instanceof OtpErlangPid) {
                    OtpErlangTuple t = (OtpErlangTuple) message;
                    mbox.send((OtpErlangPid) t.elementAt(0), t.elementAt(1));
                    say("echo " + message);
                } else if (name.equals("self") && message instanceof OtpErlangPid) {
                    mbox.send((OtpErlangPid) message, tuple(atom("self"), mbox.self()));
                    say("self asked");
                } else if (name.equals("kv") && call != null) {
                    mbox.send(
                        (OtpErlangPid) call[0], tuple(call[1], tuple(atom("java_node"), call[2])));
                    say("call kv " + call[2]);
                } else if (name.equals("rex") && call != null) {
                    mbox.send((OtpErlangPid) call[0], tuple(call[1], rexCall(node, call[2])));
                    say("rex " + call[2]);
                } else {
                    say("got " + name + " " + message);
                }
            }
        });
        thread.setDaemon(true);
        thread.start();
    }

    static int serve(String name, String cookie) throws Exception {
        OtpNode node = new OtpNode(name, cookie);
        node.registerStatusHandler(new OtpNodeStatus() {
            @Override
            public void remoteStatus(String peer, boolean up, Object info) {
                say((up ? "up " : "down ") + peer);
            }
        });
        for (String mbox : new String[] {"echo", "self", "kv", "rex", "inbox"})
            serveMbox(node, mbox);
        say("ready " + node.node());
        for (;;)
            Thread.sleep(1000);
    }

    static int connect(String name, String cookie, String target) throws Exception {
        OtpNode node = new OtpNode(name, cookie);
        say(node.ping(target, 15000) ? "ping pong" : "ping pang");
        OtpMbox mbox = node.createMbox();
        mbox.send("echo", target,
            tuple(mbox.self(), tuple(atom("hello_from_java"), new OtpErlangLong(42))));
        say("echo " + mbox.receive(15000));
        OtpErlangObject[][] calls = {
            {atom("erlang"), atom("node"), new OtpErlangList()},
            {atom("demo"), atom("echo"),
                new OtpErlangList(new OtpErlangObject[] {
                    new OtpErlangList(new OtpErlangObject[] {new OtpErlangLong(1), atom("two")})})},
        };
        for (OtpErlangObject[] c : calls) {
            // rex's old protocol, as erl_interface's ei_rpc sends it.
            mbox.send("rex", target,
                tuple(mbox.self(), tuple(atom("call"), c[0], c[1], c[2], atom("user"))));
            OtpErlangObject reply = mbox.receive(15000);
            say("rpc "
                + (reply instanceof OtpErlangTuple ? ((OtpErlangTuple) reply).elementAt(1)
                                                   : reply));
        }
        node.close();
        return 0;
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("serve")) System.exit(serve(args[1], args[2]));
        if (args.length == 4 && args[0].equals("connect"))
            System.exit(connect(args[1], args[2], args[3]));
        System.err.println("usage: JPeer serve NAME@HOST COOKIE | connect NAME@HOST COOKIE TARGET");
        System.exit(2);
    }
}
