// The KV store's and sessions' JSON, exactly as Consul writes and reads it (docs/kv.md):
// entries with base64 values, key lists, sessions, and the bodies of /v1/session/create and
// /v1/txn.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/kv.h"
#include "core/status.h"

namespace concierge::http {

// [{"LockIndex", "Key", "Flags", "Value", "CreateIndex", "ModifyIndex"[, "Session"]}]; with
// `values` false, "Value" is null (Consul's transaction results for writes).
std::string EncodeKvEntries(const std::vector<const core::KvEntry*>& entries, bool values = true);
// ["key", ...]
std::string EncodeKeys(const std::vector<std::string>& keys);
// [Session, ...], as /v1/session/info, /node and /list answer.
std::string EncodeSessions(const std::vector<const core::Session*>& sessions);

// PUT /v1/session/create: Name, Node, LockDelay ("15s", or a number: seconds below 1000,
// nanoseconds from it, as Consul reads it), Behavior, TTL, Checks / NodeChecks /
// ServiceChecks. Defaults: this node, 15 s, release, serfHealth. The ID is the caller's.
Result<core::Session> DecodeSessionCreate(std::string_view body, std::string_view node);

// PUT /v1/txn: [{"KV": {"Verb", "Key", "Value" (base64), "Flags", "Index", "Session"}}, ...].
// Consul's other operation kinds (Node, Service, Check) are refused with a message; the
// count is the caller's to check (Consul answers 413 above 128).
Result<std::vector<core::KvOp>> DecodeTxn(std::string_view body);
// {"Results": [{"KV": entry}], "Errors": null}; values only for reads.
std::string EncodeTxnResults(const std::vector<core::KvOp>& ops,
                             const std::vector<std::vector<const core::KvEntry*>>& results);
// {"Results": null, "Errors": [{"OpIndex": n, "What": "..."}]}
std::string EncodeTxnErrors(const std::vector<core::KvFailure>& errors);

}  // namespace concierge::http
