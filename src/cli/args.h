// Command line spelling: Consul writes long flags with one dash (-http-addr); CLI11 2.1.2
// accepts only two (--http-addr), so both spellings are turned into the second first.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "core/status.h"

namespace concierge::cli {

// Returns `args` with every one-dash long flag spelled with two dashes: "-name" and
// "-name=web" become "--name" and "--name=web". Left alone: args[0] (the program), single
// letters ("-h"), anything already two-dashed, anything not shaped like a flag name ("-5",
// "-1m", "- x"), and everything after a "--". A value that itself looks like a one-dash
// flag must be attached with '=' ("-note=-x"), as the rewrite does not know which flags
// take values.
std::vector<std::string> RewriteLongFlags(std::vector<std::string> args);

// "a:1,b:2,,c:3" -> {"a:1", "b:2", "c:3"}: a comma-separated list (of registry addresses),
// empty items dropped.
std::vector<std::string> SplitAddresses(const std::string& list);

// The ACL token to send: -token (or CONCIERGE_HTTP_TOKEN, which CLI11 reads into it), else
// Consul's CONSUL_HTTP_TOKEN, else none.
std::string TokenFromEnv(const std::string& token);

// The value of a duration flag ("10s", "1m30s"): positive, in milliseconds, or an error that
// names the flag.
Result<std::chrono::milliseconds> ParseFlagDuration(const std::string& flag,
                                                    const std::string& text);

}  // namespace concierge::cli
