// Session TTLs (issue 19, docs/kv.md): renewals are heartbeats. A renewal is a lock-free
// lookup in a heartbeat table of the sessions' own, with no Raft write; the leader keeps one
// deadline per session and, when it passes with no renewal, proposes core::SessionDestroy
// (expired), which releases the session's locks in the same log entry.
//
// A new leader does not know the old one's renewals: every session's TTL restarts at its
// election, as Consul does, so a failover extends a silent session by at most one TTL plus
// the election.
//
// Threading: Renew on any thread; the rest on the state thread.
#pragma once

#include <functional>
#include <optional>
#include <string_view>

#include "core/command.h"
#include "core/expiry_queue.h"
#include "server/clock.h"
#include "server/heartbeat_table.h"

namespace concierge::server {

class SessionTimers {
 public:
  using Propose = std::function<void(core::Command)>;
  SessionTimers(const Clock& clock, EpochDomain& epoch, Propose propose)
      : clock_(clock), table_(epoch), propose_(std::move(propose)) {}

  // Any thread: a renewal. False if no session with a TTL has this ID.
  bool Renew(std::string_view id) { return table_.Beat(id, clock_.Steady()).has_value(); }

  // A session was created (tracked only if it has a TTL), or ended.
  void Added(const core::Session& session);
  void Removed(std::string_view id) { table_.Remove(id); }
  // The store was replaced (a restore): forget every session, track those of `kv`.
  void Rebuild(const core::KvState& kv);
  void SetLeader(bool leader);
  // On the leader: proposes the end of every session whose TTL lapsed.
  void RunTimers();
  std::optional<core::Duration> NextTimer() const;
  std::size_t tracked() const { return table_.size(); }

 private:
  void Arm(std::uint32_t slot, core::Time deadline);

  const Clock& clock_;
  HeartbeatTable table_;
  core::ExpiryQueue deadlines_;
  Propose propose_;
  bool leader_ = true;
};

}  // namespace concierge::server
