// Sends a request on to another agent's HTTP API (a follower forwarding to the leader).
#pragma once

#include <chrono>
#include <string>

#include <boost/asio/awaitable.hpp>

#include "http/message.h"

namespace concierge::http {

// Forwards `req` (method, target, body, the headers that matter) to `host_port` and returns
// the answer. `extra_headers` are added. A peer that cannot be reached gives a 503 that says
// so. `timeout` bounds the whole exchange (blocking queries need minutes).
boost::asio::awaitable<Response> Forward(
    const Request& req, std::string host_port, std::chrono::seconds timeout,
    std::vector<std::pair<std::string, std::string>> extra_headers);

}  // namespace concierge::http
