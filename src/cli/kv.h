// `concierge kv` and `concierge lock`, as Consul's `consul kv` and `consul lock` (docs/kv.md).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "client/http_client.h"

namespace concierge::cli {

struct KvArgs {
  std::string key;
  std::string value;  // put: the value, "-" for stdin, "@file" for a file
  bool recurse = false;
  bool keys = false;
  bool detailed = false;
  std::string separator = "/";
  std::uint64_t flags = 0;
  bool cas = false;
  std::uint64_t modify_index = 0;
  std::string acquire_session;  // put -acquire -session S
  bool acquire = false;
  bool release = false;
  std::string session;
  std::string file;  // import: the file, or "-" / empty for stdin
  CLI::App* get = nullptr;
  CLI::App* put = nullptr;
  CLI::App* del = nullptr;
  CLI::App* exp = nullptr;
  CLI::App* imp = nullptr;
};

// Adds `kv get|put|delete|export|import` to `app`; `each` is called on every leaf command
// (for -http-addr and -token).
CLI::App* AddKvCommand(CLI::App& app, KvArgs* args, const std::function<void(CLI::App*)>& each);
// 0 on success (for get: the key exists), 1 when the agent refuses or a condition fails.
int RunKv(client::HttpClient& client, const KvArgs& args);

struct LockArgs {
  std::string prefix;
  std::vector<std::string> command;
  int limit = 1;                  // -n: holders at once (> 1: a semaphore)
  std::string timeout = "0s";     // how long to wait for the lock; 0: for ever
  std::string ttl = "15s";        // the session's TTL
  std::string lock_delay = "0s";  // the session's LockDelay
  std::string name;               // the session's name
};

CLI::App* AddLockCommand(CLI::App& app, LockArgs* args);
// Waits for the lock on `prefix`, runs the command while holding it (renewing the session,
// stopping the command if the lock is lost), and releases it when the command exits. Returns
// the command's exit code, or 1 if the lock could not be had.
int RunLock(const std::string& address, const client::HttpClientOptions& options,
            const LockArgs& args);

}  // namespace concierge::cli
