#include "server/state_loop.h"

#include <cstdio>
#include <cstdlib>
#include <future>

#include <boost/asio/use_awaitable.hpp>

namespace concierge::server {

namespace {

void Check(int rc, const char* what) {
  if (rc != 0) {
    std::fprintf(stderr, "concierge: %s: %s\n", what, uv_strerror(rc));
    std::abort();
  }
}

}  // namespace

StateLoop::StateLoop(Registry& registry) : registry_(registry), direct_(registry), log_(&direct_) {
  Check(uv_loop_init(&loop_), "uv_loop_init");
  Check(uv_async_init(&loop_, &wake_, [](uv_async_t* a) { static_cast<StateLoop*>(a->data)->Drain(); }),
        "uv_async_init");
  wake_.data = this;
  Check(uv_timer_init(&loop_, &timer_), "uv_timer_init");
  timer_.data = this;
  // Before the loop blocks for I/O, so that whatever the callbacks of this iteration
  // (timers, applies, jobs) changed is published before the loop sleeps.
  registry_.set_deferred_publish(true);
  Check(uv_prepare_init(&loop_, &flush_), "uv_prepare_init");
  flush_.data = this;
  uv_prepare_start(&flush_, [](uv_prepare_t* c) {
    auto* self = static_cast<StateLoop*>(c->data);
    self->registry_.Flush();
    self->registry_.Collect();
  });
  uv_unref(reinterpret_cast<uv_handle_t*>(&flush_));
}

StateLoop::~StateLoop() {
  Stop();
  // Never started, or stopped: close what is still open and let the loop finish.
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&wake_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
  }
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&flush_))) {
    uv_close(reinterpret_cast<uv_handle_t*>(&flush_), nullptr);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
}

void StateLoop::set_log(CommandLog* log) { log_ = log; }

void StateLoop::Start() {
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

void StateLoop::Stop() {
  if (!thread_.joinable()) return;
  Post([this] {
    stopping_ = true;
    log_->Close([this] {
      registry_.Flush();
      uv_close(reinterpret_cast<uv_handle_t*>(&wake_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&timer_), nullptr);
      uv_close(reinterpret_cast<uv_handle_t*>(&flush_), nullptr);
    });
  });
  thread_.join();
}

void StateLoop::Post(std::function<void()> fn) {
  {
    std::lock_guard lock(mu_);
    jobs_.push_back(std::move(fn));
  }
  uv_async_send(&wake_);
}

void StateLoop::Drain() {
  std::vector<std::function<void()>> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(jobs_);
  }
  for (auto& job : jobs) job();
  if (stopping_) return;
  ArmTimer();
  registry_.Collect();
}

boost::asio::awaitable<Result<core::Index>> StateLoop::Submit(core::Command command) {
  co_return co_await AsyncSubmit(std::move(command), boost::asio::use_awaitable);
}

boost::asio::awaitable<std::vector<Result<core::Index>>> StateLoop::SubmitAll(
    std::vector<core::Command> commands) {
  co_return co_await AsyncSubmitAll(std::move(commands), boost::asio::use_awaitable);
}

boost::asio::awaitable<Status> StateLoop::Call(Operation fn) {
  co_return co_await AsyncCall(std::move(fn), boost::asio::use_awaitable);
}

Result<core::Index> StateLoop::SubmitAndWait(core::Command command) {
  std::promise<Result<core::Index>> promise;
  auto future = promise.get_future();
  Post([this, &promise, cmd = std::move(command)]() mutable {
    SubmitHere(std::move(cmd), [&promise](Result<core::Index> r) { promise.set_value(std::move(r)); });
  });
  return future.get();
}

void StateLoop::SubmitHere(core::Command command, CommandLog::Done done) {
  if (stopping_) {
    done(Status::Unavailable("the agent is shutting down"));
    return;
  }
  command = registry_.Prepare(std::move(command));
  // A write is answered only once readers can see it.
  done = [this, done = std::move(done)](Result<core::Index> r) {
    registry_.Flush();
    done(std::move(r));
  };
  if (Status st = registry_.catalog().Validate(command); !st.ok()) {
    done(st);
    return;
  }
  // Commit latency: ordering (with Raft, replication and fsync) plus apply.
  log_->Append(std::move(command),
               [started = std::chrono::steady_clock::now(), done = std::move(done)](
                   Result<core::Index> r) {
                 Metrics::Get().commit_latency.Observe(std::chrono::steady_clock::now() - started);
                 done(std::move(r));
               });
}

void StateLoop::ArmTimer() {
  if (stopping_) return;
  std::optional<core::Duration> next = registry_.NextTimer();
  if (!next) {
    uv_timer_stop(&timer_);
    return;
  }
  // libuv timers count whole milliseconds: round up so that the deadline has passed.
  auto ms = static_cast<std::uint64_t>((next->count() + 999'999) / 1'000'000);
  uv_timer_start(
      &timer_,
      [](uv_timer_t* t) {
        auto* self = static_cast<StateLoop*>(t->data);
        uv_update_time(t->loop);
        self->registry_.RunTimers();
        self->registry_.Collect();
        self->ArmTimer();
      },
      ms, 0);
}

}  // namespace concierge::server
