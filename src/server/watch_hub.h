// Parked blocking queries (Consul's ?index=&wait=), keyed by what they watch: a service name,
// or kCatalogKey for the list of services. Waiters are coroutines on the I/O threads, not
// threads; the state thread wakes exactly the waiters of what changed (DESIGN.md decision 7).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace concierge::server {

class WatchHub {
 public:
  static constexpr std::string_view kCatalogKey = "";
  // Woken by the registry after every change to any service (the web UI's one watch).
  static constexpr std::string_view kAnyKey = "\x01any";
  // Woken after every change to the KV store; to the sessions.
  static constexpr std::string_view kKvKey = "\x01kv";
  static constexpr std::string_view kSessionsKey = "\x01sessions";

  using TimePoint = std::chrono::steady_clock::time_point;

  // Suspends the calling coroutine until Notify(key) or `deadline`. Returns at once if
  // `passed()` is already true; `passed` is evaluated under the hub's lock, and the state
  // thread publishes before it notifies, so no wake-up is lost in between.
  // Once parked, `on_parked` (if any) is given a function that ends the wait early; call it
  // on the waiting coroutine's thread, only while it waits (the client went away).
  // Returns when the Notify that woke it was called (where the fan-out of a change to its
  // watchers starts), or nullopt if no Notify did: passed at once, the deadline, ended early.
  boost::asio::awaitable<std::optional<TimePoint>> Wait(
      std::string key, const std::function<bool()>& passed, TimePoint deadline,
      const std::function<void(std::function<void()>)>& on_parked = nullptr);

  // Any thread: wakes every waiter of `key`, telling each the time of this call (one clock
  // read for all of them).
  void Notify(std::string_view key);

  std::size_t parked() const { return parked_.load(std::memory_order_relaxed); }

 private:
  struct Waiter;
  using WaiterList = std::list<std::shared_ptr<Waiter>>;

  std::mutex mu_;
  std::unordered_map<std::string, WaiterList> waiters_;
  std::atomic<std::size_t> parked_{0};
};

}  // namespace concierge::server
