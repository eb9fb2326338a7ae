// Copyright: the Concierge authors.
//
// A Watcher keeps a local, always-available copy of the healthy instances of one service,
// updated by blocking queries (long polls) against the registry:
//
//   concierge::Watcher rooms(*client, "room-service");
//   rooms.Start();                                   // first answer, then a thread
//   std::shared_ptr<const concierge::ServiceSnapshot> now = rooms.snapshot();
//   for (const concierge::Instance& i : now->instances) ...
//
// After the first whole answer it asks a Concierge registry only what changed (Client::Delta),
// so a change to one instance of a 100,000-instance service costs one instance on the wire;
// against Consul (or a registry that does not serve deltas) it re-reads the whole list.
//
// When the registry cannot be reached, the Watcher keeps serving the last list it got
// (stale but available, like Eureka's client cache) and says so: snapshot()->stale is true
// and snapshot()->error tells why, until a query succeeds again. It survives registry
// restarts: a connection error is retried with backoff (and on the next address of a
// cluster), and an index that went backwards starts the blocking queries afresh.
//
// Thread safety: every method may be called from any thread, except that Poll() must not be
// called while the Watcher's own thread runs (between Start and Stop).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "concierge/client.h"
#include "concierge/status.h"

namespace concierge {

// What a Watcher knows about a service at one moment. Immutable once published.
struct ServiceSnapshot {
  std::vector<Instance> instances{};  // the last list the registry answered, sorted by ID
  std::uint64_t index = 0;            // its X-Consul-Index
  bool known = false;                 // at least one answer arrived (else instances is empty)
  // The last query failed: `instances` may be out of date. Cleared by the next answer.
  bool stale = false;
  Status error{};                  // why it is stale (ok when not stale)
  Clock::TimePoint last_answer{};  // when the last answer arrived (epoch if none)
  std::uint64_t version = 0;       // grows by one with each published change
};

struct WatcherOptions {
  bool passing_only = true;                  // only instances whose checks all pass
  std::vector<std::string> tags{};           // only instances with every one of these tags
  Duration wait = std::chrono::seconds(60);  // how long one blocking query may wait
  // Retry delay after a failed query: doubles per failure from min_backoff to max_backoff.
  Duration min_backoff = std::chrono::milliseconds(100);
  Duration max_backoff = std::chrono::seconds(10);
  // Called after each published change: a different list, or going stale or fresh again.
  // Runs on the polling thread; it may read snapshot() but must not call Stop().
  std::function<void(const ServiceSnapshot&)> on_change{};
  const Clock* clock = Clock::Real();
};

class Watcher {
 public:
  // Opens its own connections with client.options() (so Stop() can abort a long poll
  // without disturbing other users of `client`); `client` need not outlive the Watcher.
  Watcher(const Client& client, std::string service, WatcherOptions options = {});
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;
  // Stop().
  ~Watcher();

  // Asks once (answer at once, no blocking), then keeps polling on a background thread.
  // Returns the first query's status; the thread runs even when it failed.
  Status Start();

  // One step for a caller's event loop: one (blocking) query, published if anything
  // changed. Returns how long to wait before the next call (0 after an answer, a backoff
  // after a failure).
  Duration Poll();

  // Aborts the query in flight and joins the thread. Idempotent. snapshot() keeps working.
  void Stop();

  // The current snapshot; never null (before any answer: known == false, empty list).
  std::shared_ptr<const ServiceSnapshot> snapshot() const;

  // Blocks until snapshot()->version > version or `timeout` passes; returns the snapshot.
  std::shared_ptr<const ServiceSnapshot> WaitForChange(std::uint64_t version,
                                                       Duration timeout) const;

  const std::string& service() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concierge
