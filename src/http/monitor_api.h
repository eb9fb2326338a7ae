// GET /v1/agent/monitor?loglevel=info: the agent's log lines as they are written, streamed
// (chunked) until the client closes the connection, as `consul monitor` reads them.
#pragma once

#include <boost/asio/awaitable.hpp>

#include "http/message.h"
#include "server/log_monitor.h"

namespace concierge::http {

boost::asio::awaitable<Response> AgentMonitor(const Request& req, server::LogMonitor* monitor);

}  // namespace concierge::http
