#include "cluster/heartbeat_forwarder.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <unordered_map>

#include "http/forward.h"

namespace concierge::cluster {

namespace asio = boost::asio;

// Lives in the frame of the Beat coroutine that waits; the batch that carries its heartbeat
// fills in the outcome and wakes it. Both run on the same I/O thread.
struct HeartbeatForwarder::Waiter {
  explicit Waiter(const asio::any_io_executor& ex)
      : wake(ex, asio::steady_timer::time_point::max()) {}
  asio::steady_timer wake;
  Outcome outcome;
  bool done = false;
};

HeartbeatForwarder::Queue& HeartbeatForwarder::ThreadQueue() {
  thread_local std::unordered_map<const HeartbeatForwarder*, Queue> queues;
  return queues[this];
}

asio::awaitable<HeartbeatForwarder::Outcome> HeartbeatForwarder::Beat(http::HeartbeatEntry entry) {
  asio::any_io_executor ex = co_await asio::this_coro::executor;
  Waiter waiter(ex);
  Queue& queue = ThreadQueue();
  queue.pending.push_back({entry, &waiter});
  if (queue.in_flight == 0 ||
      (queue.pending.size() >= kMaxForwardBatch && queue.in_flight < kMaxInFlight)) {
    ++queue.in_flight;
    asio::co_spawn(ex, Flush(queue), asio::detached);
  }
  if (!waiter.done) {
    boost::system::error_code ec;  // cancelled: the outcome is in
    co_await waiter.wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  co_return std::move(waiter.outcome);
}

asio::awaitable<void> HeartbeatForwarder::Flush(Queue& queue) {
  while (!queue.pending.empty()) {
    std::vector<Pending> batch;
    if (queue.pending.size() <= kMaxForwardBatch) {
      batch.swap(queue.pending);
    } else {
      auto end = queue.pending.begin() + kMaxForwardBatch;
      batch.assign(queue.pending.begin(), end);
      queue.pending.erase(queue.pending.begin(), end);
    }
    co_await Send(std::move(batch));
  }
  --queue.in_flight;
}

asio::awaitable<void> HeartbeatForwarder::Send(std::vector<Pending> batch) {
  auto fail_all = [&](int code, std::string error) {
    for (Pending& p : batch) p.waiter->outcome = {code, error, 0};
  };
  Result<std::string> leader = leader_();
  if (!leader.ok()) {
    fail_all(503, leader.status().message());
  } else {
    std::string target = std::move(*leader);
    co_await SendTo(std::move(target), batch);
  }
  for (Pending& p : batch) {
    p.waiter->done = true;
    p.waiter->wake.cancel();
  }
}

asio::awaitable<void> HeartbeatForwarder::SendTo(std::string leader, std::vector<Pending>& batch) {
  auto fail_all = [&](int code, std::string error) {
    for (Pending& p : batch) p.waiter->outcome = {code, error, 0};
  };
  // Nothing may escape: this runs detached, and every waiter of the batch must be woken.
  try {
    std::vector<http::HeartbeatEntry> entries;
    entries.reserve(batch.size());
    for (const Pending& p : batch) entries.push_back(p.entry);
    http::Request req;
    req.method = "PUT";
    req.target = "/v1/concierge/heartbeats";
    req.path = req.target;
    req.headers.emplace_back("Content-Type", "application/json");
    req.body = http::EncodeHeartbeatBatch(entries);
    // Named locals: g++ 12 mishandles temporaries passed to coroutines (PR 100611).
    std::string target = std::move(leader);
    std::vector<std::pair<std::string, std::string>> no_headers;
    http::Response r = co_await http::Forward(req, std::move(target), std::chrono::seconds(10),
                                              std::move(no_headers), tls_);
    if (r.status != 200) {
      while (!r.body.empty() && r.body.back() == '\n') r.body.pop_back();
      fail_all(r.status, std::move(r.body));
    } else if (auto results = http::DecodeHeartbeatResults(r.body, batch.size()); !results.ok()) {
      fail_all(502, "the leader's answer to a batch of heartbeats: " + results.status().message());
    } else {
      for (std::size_t i = 0; i < batch.size(); ++i) {
        batch[i].waiter->outcome = {results->codes[i], "", results->index};
      }
      for (auto& [position, error] : results->errors) {
        batch[position].waiter->outcome.error = std::move(error);
      }
    }
  } catch (const std::exception& e) {
    fail_all(502, std::string("forwarding heartbeats to the leader failed: ") + e.what());
  }
}

}  // namespace concierge::cluster
