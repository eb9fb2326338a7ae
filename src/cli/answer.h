// How the commands that talk to an agent report its answers: a refusal (any status but the
// expected one) or a transport error on stderr, with exit code 1.
#pragma once

#include <rapidjson/document.h>

#include <optional>
#include <string_view>

#include "client/http_client.h"

namespace concierge::cli {

// Prints "Error: agent answered <status>: <body>"; returns 1.
int Refused(const client::Response& r);

// Sends one request that must answer 200 with JSON; prints the agent's refusal or the
// transport error, sets *exit_code and returns nullopt otherwise.
std::optional<rapidjson::Document> Call(client::HttpClient& client, std::string_view method,
                                        std::string_view target, std::string_view body,
                                        int* exit_code);

}  // namespace concierge::cli
