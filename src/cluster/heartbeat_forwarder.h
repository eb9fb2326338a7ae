// A follower's heartbeats on their way to the leader (DESIGN.md decision 1). Heartbeats that
// arrive on one I/O thread while a batch from it is on its way are coalesced into the next
// batch (PUT /v1/concierge/heartbeats, at most kMaxForwardBatch entries); each client is
// answered once the leader has answered for its heartbeat. So under load one request to the
// leader carries many heartbeats, and at rest a heartbeat waits for nobody.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "http/forward.h"
#include "http/heartbeat_batch.h"

namespace concierge::cluster {

class HeartbeatForwarder {
 public:
  // The leader's HTTP address, or why there is none (answered as 503).
  using LeaderAddress = std::function<Result<std::string>()>;
  explicit HeartbeatForwarder(LeaderAddress leader) : leader_(std::move(leader)) {}
  // Before the first heartbeat: HTTPS to the leader when the servers run with TLS.
  void set_tls(http::PeerTls tls) { tls_ = std::move(tls); }

  struct Outcome {
    int code = 503;
    std::string error;        // for a code other than 200
    std::uint64_t index = 0;  // the leader's X-Consul-Index, for 200
  };
  // Forwards one heartbeat; `entry`'s strings must stay valid until it completes. Call on an
  // I/O thread (a coroutine on its io_context).
  boost::asio::awaitable<Outcome> Beat(http::HeartbeatEntry entry);

  static constexpr std::size_t kMaxForwardBatch = 1024;
  // Batches in flight from one I/O thread at once; the first is sent at once, more only when
  // a full batch is waiting.
  static constexpr int kMaxInFlight = 4;

 private:
  struct Waiter;
  struct Pending {
    http::HeartbeatEntry entry;
    Waiter* waiter;
  };
  // Per I/O thread (each runs its own io_context, so no locks).
  struct Queue {
    std::vector<Pending> pending;
    int in_flight = 0;
  };
  Queue& ThreadQueue();
  boost::asio::awaitable<void> Flush(Queue& queue);
  boost::asio::awaitable<void> Send(std::vector<Pending> batch);
  // Fills in every outcome of `batch` from the leader's answer; never throws.
  boost::asio::awaitable<void> SendTo(std::string leader, std::vector<Pending>& batch);

  LeaderAddress leader_;
  http::PeerTls tls_;
};

}  // namespace concierge::cluster
