#include "server/watch_hub.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <iterator>
#include <utility>
#include <vector>

namespace concierge::server {

namespace asio = boost::asio;

struct WatchHub::Waiter {
  explicit Waiter(const asio::any_io_executor& ex) : timer(ex) {}
  asio::steady_timer timer;  // touched only on its own executor (one I/O thread)
  std::string key;
  WaiterList::iterator self;
  bool parked = false;  // guarded by the hub's mutex
  TimePoint woken_at;   // set by the Notify that takes it off the list; guarded likewise
};

asio::awaitable<std::optional<WatchHub::TimePoint>> WatchHub::Wait(
    std::string key, const std::function<bool()>& passed, TimePoint deadline,
    const std::function<void(std::function<void()>)>& on_parked) {
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor);
  waiter->timer.expires_at(deadline);
  {
    std::lock_guard lock(mu_);
    if (passed()) co_return std::nullopt;
    WaiterList& list = waiters_[key];
    waiter->self = list.insert(list.end(), waiter);
    waiter->key = std::move(key);
    waiter->parked = true;
  }
  parked_.fetch_add(1, std::memory_order_relaxed);
  // Unparks on every way out: woken, timed out, or the coroutine destroyed unresumed (its
  // io_context shutting down). The hub must never hold the last reference to a timer whose
  // io_context is gone.
  struct Unpark {
    WatchHub* hub;
    Waiter* waiter;
    bool done = false;
    // When the Notify that took the waiter off the list was called; nullopt if none did.
    std::optional<TimePoint> Run() {
      done = true;
      hub->parked_.fetch_sub(1, std::memory_order_relaxed);
      std::lock_guard lock(hub->mu_);
      if (!waiter->parked) return waiter->woken_at;
      waiter->parked = false;
      auto it = hub->waiters_.find(waiter->key);
      it->second.erase(waiter->self);
      if (it->second.empty()) hub->waiters_.erase(it);
      return std::nullopt;
    }
    ~Unpark() {
      if (!done) Run();
    }
  } unpark{this, waiter.get()};
  if (on_parked) {
    on_parked([weak = std::weak_ptr<Waiter>(waiter)] {
      if (auto w = weak.lock()) w->timer.cancel();
    });
  }
  boost::system::error_code ec;
  co_await waiter->timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  co_return unpark.Run();
}

void WatchHub::Notify(std::string_view key) {
  const TimePoint now = std::chrono::steady_clock::now();
  WaiterList woken;
  {
    std::lock_guard lock(mu_);
    auto it = waiters_.find(std::string(key));
    if (it == waiters_.end()) return;
    woken.swap(it->second);
    waiters_.erase(it);
    for (auto& w : woken) {
      w->parked = false;
      w->woken_at = now;
    }
  }
  // One handler per I/O thread (executor), not per waiter: a change that wakes 10,000 queries
  // posts a handful of jobs from this thread, each cancelling its thread's timers. The
  // handlers take the only references this thread held: a waiter (and its timer) must die
  // on its own executor, never here, after its io_context may be gone.
  std::vector<std::pair<asio::any_io_executor, std::vector<std::shared_ptr<Waiter>>>> by_thread;
  for (auto& w : woken) {
    auto ex = w->timer.get_executor();
    auto group = std::find_if(by_thread.begin(), by_thread.end(),
                              [&](const auto& g) { return g.first == ex; });
    if (group == by_thread.end()) {
      by_thread.emplace_back(ex, std::vector<std::shared_ptr<Waiter>>{});
      group = std::prev(by_thread.end());
      group->second.reserve(woken.size());
    }
    group->second.push_back(std::move(w));
  }
  for (auto& [ex, waiters] : by_thread) {
    asio::post(ex, [waiters = std::move(waiters)] {
      for (const auto& w : waiters) w->timer.cancel();
    });
  }
}

}  // namespace concierge::server
