// The whole public API in one include, for programs that would rather not pick headers.
// Each header stands alone too: include only what a file uses to keep builds quick.
#pragma once

#include "distribute/actor.hpp"
#include "distribute/codec.hpp"
#include "distribute/crypto.hpp"
#include "distribute/envelope.hpp"
#include "distribute/epmd.hpp"
#include "distribute/etf.hpp"
#include "distribute/expected.hpp"
#include "distribute/mailbox.hpp"
#include "distribute/messaging.hpp"
#include "distribute/node.hpp"
#include "distribute/retry.hpp"
#include "distribute/rpc.hpp"
#include "distribute/subject.hpp"
#include "distribute/supervisor.hpp"
#include "distribute/term.hpp"
