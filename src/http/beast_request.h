// Beast's parsed request into the plain Request that handlers see (message.h). The server and
// the request-path fuzzer (tests/fuzz/http_fuzz.cc) share it, so the fuzzer runs exactly
// what the server runs.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace concierge::http {

// Sets *error (and returns a partial request) for what Beast lets through but the handlers
// must not see: a malformed percent-escape, a query value that is not UTF-8, a control
// character in a header value.
inline Request ToRequest(boost::beast::http::request<boost::beast::http::string_body>& msg,
                         const std::string& remote, std::optional<Response>* error) {
  Request req;
  req.method = std::string(msg.method_string());
  std::string_view target(msg.target().data(), msg.target().size());
  std::size_t q = target.find('?');
  auto path = PercentDecode(target.substr(0, q), false);
  auto query = ParseQuery(q == std::string_view::npos ? "" : target.substr(q + 1));
  if (!path || !query) {
    *error = Response::Error(400, "malformed percent-encoding in the request URL");
    return req;
  }
  for (const auto& [key, value] : *query) {
    if (!ValidUtf8(key) || !ValidUtf8(value)) {
      *error = Response::Error(400, "query parameter \"" + key + "\" is not valid UTF-8");
      return req;
    }
  }
  req.target = std::string(target);
  req.path = std::move(*path);
  req.query = std::move(*query);
  for (const auto& field : msg) {
    std::string_view value(field.value().data(), field.value().size());
    for (unsigned char c : value) {
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        *error = Response::Error(
            400, "header " + std::string(field.name_string()) + " contains a control character");
        return req;
      }
    }
    req.headers.emplace_back(std::string(field.name_string()), std::string(value));
  }
  req.body = std::move(msg.body());
  req.remote_address = remote;
  return req;
}

}  // namespace concierge::http
