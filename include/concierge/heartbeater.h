// Copyright: the Concierge authors.
//
// A Heartbeater keeps one service instance registered and its TTL check passing for as
// long as it runs:
//
//   concierge::Heartbeater heartbeater(client.get(), {.name = "web", .id = "web-1",
//                                                     .port = 8080});
//   heartbeater.Start();   // registers, then heartbeats on a thread of its own
//   ...
//   heartbeater.Stop();    // or the destructor: stops and deregisters
//
// Every interval (TTL/3 unless set) it reports the check as passing, or, when a probe is
// given and fails, as critical with the probe's message as the check's output. If the
// registry answers that it does not know the check (it forgot the instance), the
// Heartbeater registers the instance again. On errors it retries sooner, backing off from
// min_backoff up to the interval, so it never waits longer than a heartbeat is due.
//
// Programs with an event loop of their own skip Start() and call Beat() when it says.
//
// Thread safety: Start, Stop and the accessors may be called from any thread. Beat() must
// not be called while the Heartbeater's own thread runs (i.e. between Start and Stop).
#pragma once

#include <functional>
#include <memory>

#include "concierge/client.h"
#include "concierge/status.h"

namespace concierge {

struct HeartbeaterOptions {
  // The instance's own health, asked before each heartbeat. Ok: heartbeat as passing.
  // Not ok: report critical with the message as output. Empty: always healthy.
  std::function<Status()> probe{};
  // Time between heartbeats. 0: the registration's TTL / 3.
  Duration interval = Duration::zero();
  // First retry delay after an error; it doubles per error, up to the interval.
  Duration min_backoff = std::chrono::milliseconds(200);
  // Deregister the instance on Stop().
  bool deregister_on_stop = true;
  // Told about each failure and each recovery ("heartbeat failed: ...", "registered web-1").
  // Runs on the heartbeating thread; must not call back into the Heartbeater.
  std::function<void(const std::string& event)> log{};
};

class Heartbeater {
 public:
  // `client` must outlive the Heartbeater. A registration without a TTL is heartbeated
  // every 10 s anyway, only to re-register it if the registry forgot it.
  Heartbeater(Client* client, ServiceRegistration registration, HeartbeaterOptions options = {});
  Heartbeater(const Heartbeater&) = delete;
  Heartbeater& operator=(const Heartbeater&) = delete;
  // Stop().
  ~Heartbeater();

  // Registers the instance and sends the first heartbeat (one Beat()), then keeps beating on
  // a background thread. Returns that first Beat's status; the thread runs (and retries) even
  // when it failed, so a registry that is down at start-up is no reason to exit.
  Status Start();

  // One step for a caller's event loop: registers if needed, probes, sends one heartbeat
  // (re-registering on NotFound). Returns how long to wait before calling it again.
  Duration Beat();

  // Stops the thread (waiting at most one request timeout for a request in flight) and,
  // unless options.deregister_on_stop is false, deregisters the instance. Idempotent.
  // Returns the deregistration's status (ok if there was nothing to do).
  Status Stop();

  // The status of the last heartbeat or registration attempt.
  Status last_status() const;
  // Number of registrations sent, the first included (re-registrations show up here).
  int registrations() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concierge
