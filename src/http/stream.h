// A response body written as it is produced, with chunked encoding (GET /v1/agent/monitor).
// The server writes each piece that Next returns until it returns nullopt, or until the
// client goes away, which it reports with ClientGone; then it ends the response and closes
// the connection. Both are called on the connection's I/O thread.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>

namespace concierge::http {

class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // The next piece of the body (never empty), or nullopt at the end.
  virtual boost::asio::awaitable<std::optional<std::string>> Next() = 0;
  // The client closed the connection: a pending Next must return nullopt soon.
  virtual void ClientGone() = 0;
};

}  // namespace concierge::http
