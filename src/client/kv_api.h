// The agent's KV store and sessions (docs/kv.md), as `concierge kv` and `concierge lock` call
// them; failures as in agent_api.h. Internal.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/agent_api.h"

namespace concierge::client {

struct KvEntry {
  std::string key;
  std::string value;  // the bytes (base64 on the wire)
  std::uint64_t flags = 0;
  std::uint64_t create_index = 0;
  std::uint64_t modify_index = 0;
  std::uint64_t lock_index = 0;
  std::string session;  // the lock holder's; empty: none
};

struct KvQuery {
  bool recurse = false;  // every key under the prefix
  // Blocking: with index > 0, the agent answers when the key (or prefix) changes after it,
  // or after `wait`.
  std::uint64_t index = 0;
  std::chrono::milliseconds wait{0};
};

struct KvRead {
  std::vector<KvEntry> entries;  // empty: no such key (the agent answered 404)
  std::uint64_t index = 0;       // X-Consul-Index, for the next blocking read; 0 if missing
};

// GET /v1/kv/<key>[?recurse]. Internal "the agent's answer is not a JSON array" when it
// cannot be read.
Result<KvRead> KvGet(HttpClient& http, std::string_view key, const KvQuery& query = {});
// The keys under `prefix`, up to `separator` (GET /v1/kv/<prefix>?keys); none: empty.
Result<std::vector<std::string>> KvKeys(HttpClient& http, std::string_view prefix,
                                        std::string_view separator);

struct KvWrite {
  std::uint64_t flags = 0;
  std::optional<std::uint64_t> cas{};  // only if the key's ModifyIndex is this (0: a new key)
  std::string acquire{};               // take the key's lock for this session
  std::string release{};               // give back the lock this session holds
};
// PUT /v1/kv/<key>: true when written, false when a condition (cas, lock) failed.
Result<bool> KvPut(HttpClient& http, std::string_view key, std::string_view value,
                   const KvWrite& write = {});
// DELETE /v1/kv/<key>[?recurse|?cas=N]: true when deleted, false when cas failed.
Result<bool> KvDelete(HttpClient& http, std::string_view key, bool recurse,
                      std::optional<std::uint64_t> cas = {});

struct SessionOptions {
  std::string name{};
  std::string ttl{};         // Go duration, e.g. "15s"
  std::string lock_delay{};  // Go duration
};
// PUT /v1/session/create with Behavior "release": the session's ID.
Result<std::string> CreateSession(HttpClient& http, const SessionOptions& options);
// NotFound when the session is gone.
Status RenewSession(HttpClient& http, std::string_view id);
Status DestroySession(HttpClient& http, std::string_view id);

}  // namespace concierge::client
