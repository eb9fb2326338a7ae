#include "cli/answer.h"

#include <iostream>
#include <string>

#include "client/json.h"

namespace concierge::cli {

int Refused(const client::Response& r) {
  std::string body = r.body;
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  std::cerr << "Error: agent answered " << r.status << (body.empty() ? "" : ": " + body) << "\n";
  return 1;
}

std::optional<rapidjson::Document> Call(client::HttpClient& client, std::string_view method,
                                        std::string_view target, std::string_view body,
                                        int* exit_code) {
  auto r = client.Send(method, target, body);
  if (!r.ok()) {
    std::cerr << "Error: " << r.status().message() << "\n";
    *exit_code = 1;
    return std::nullopt;
  }
  if (r->status != 200) {
    *exit_code = Refused(*r);
    return std::nullopt;
  }
  Result<rapidjson::Document> doc = client::ParseJson(r->body);
  if (!doc.ok()) {
    std::cerr << "Error: the agent's answer is not JSON\n";
    *exit_code = 1;
    return std::nullopt;
  }
  return std::move(doc).value();
}

}  // namespace concierge::cli
