#include "server/state_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <boost/asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <future>

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
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) Check(uv_translate_sys_error(errno), "eventfd");
  Check(uv_poll_init(&loop_, &wake_, wake_fd_), "uv_poll_init");
  wake_.data = this;
  Check(uv_poll_start(&wake_, UV_READABLE,
                      [](uv_poll_t* p, int, int) { static_cast<StateLoop*>(p->data)->Drain(); }),
        "uv_poll_start");
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
  Check(uv_idle_init(&loop_, &ack_), "uv_idle_init");
  ack_.data = this;
}

StateLoop::~StateLoop() {
  Stop();
  // Never started, or stopped: close what is still open and let the loop finish.
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&wake_))) CloseHandles();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  close(wake_fd_);
}

void StateLoop::CloseHandles() {
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&wake_), reinterpret_cast<uv_handle_t*>(&timer_),
        reinterpret_cast<uv_handle_t*>(&flush_), reinterpret_cast<uv_handle_t*>(&ack_)}) {
    uv_close(h, nullptr);
  }
}

void StateLoop::set_log(CommandLog* log) { log_ = log; }

void StateLoop::Start() {
  thread_ = std::thread([this] { uv_run(&loop_, UV_RUN_DEFAULT); });
}

void StateLoop::Stop() {
  if (!thread_.joinable()) return;
  Post([this] {
    stopping_ = true;
    AppendWrites();  // the commands of the jobs before this one
    log_->Close([this] {
      Acknowledge();
      registry_.Flush();
      CloseHandles();
    });
  });
  thread_.join();
}

bool StateLoop::Enqueue(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  bool first = jobs_.empty();
  jobs_.push_back(std::move(fn));
  return first;
}

void StateLoop::Wake() {
  while (eventfd_write(wake_fd_, 1) != 0 && errno == EINTR) {
  }
}

// The loop empties the queue after it has read the eventfd, so a job queued after that finds
// it empty and wakes it again: no job waits for a later wake-up. A job queued behind one
// whose wake-up is deferred (PostFrom) waits for that one, or for any other; Post always
// wakes, so that Stop never waits on an I/O thread that has stopped.
void StateLoop::Post(std::function<void()> fn) {
  Enqueue(std::move(fn));
  Wake();
}

void StateLoop::Drain() {
  eventfd_t ignored;
  (void)eventfd_read(wake_fd_, &ignored);
  std::vector<std::function<void()>> jobs;
  {
    std::lock_guard lock(mu_);
    jobs.swap(jobs_);
  }
  draining_ = true;
  for (auto& job : jobs) job();
  draining_ = false;
  AppendWrites();
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
    SubmitHere(std::move(cmd),
               [&promise](Result<core::Index> r) { promise.set_value(std::move(r)); });
  });
  return future.get();
}

void StateLoop::SubmitHere(core::Command command, CommandLog::Done done) {
  if (stopping_) {
    done(Status::Unavailable("the agent is shutting down"));
    return;
  }
  command = registry_.Prepare(std::move(command));
  // A write is answered only once readers can see it: Acknowledge publishes first.
  done = [this, done = std::move(done)](Result<core::Index> r) mutable {
    if (uv_is_closing(reinterpret_cast<uv_handle_t*>(&ack_))) {
      done(std::move(r));  // the loop is closing: nothing else will run
      return;
    }
    if (acks_.empty()) {
      uv_idle_start(&ack_, [](uv_idle_t* h) { static_cast<StateLoop*>(h->data)->Acknowledge(); });
    }
    acks_.emplace_back(std::move(done), std::move(r));
  };
  if (Status st = registry_.catalog().Validate(command); !st.ok()) {
    done(st);
    return;
  }
  // An update that changes nothing, or only output within check_update_interval: no write.
  if (registry_.AbsorbUpdate(command)) {
    done(registry_.index());
    return;
  }
  // Commit latency: ordering (with Raft, replication and fsync) plus apply.
  CommandLog::Done timed = [&latency = registry_.metrics().commit_latency,
                            started = std::chrono::steady_clock::now(),
                            done = std::move(done)](Result<core::Index> r) {
    latency.Observe(std::chrono::steady_clock::now() - started);
    done(std::move(r));
  };
  // With a log on disk, the commands of one wake-up go to it together, after the last job
  // (Drain). In memory each is applied at once, so the next one is validated against it.
  writes_.push_back({std::move(command), std::move(timed)});
  if (!draining_ || log_ == &direct_) AppendWrites();
}

void StateLoop::AppendWrites() {
  if (writes_.empty()) return;
  std::vector<CommandLog::Write> writes;
  writes.swap(writes_);
  log_->AppendAll(std::move(writes));
}

void StateLoop::Acknowledge() {
  if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&ack_))) uv_idle_stop(&ack_);
  registry_.Flush();
  // An answer may submit more (SubmitAndWait's caller, a follow-up): those queue anew.
  std::vector<std::pair<CommandLog::Done, Result<core::Index>>> acks;
  acks.swap(acks_);
  for (auto& [done, result] : acks) done(std::move(result));
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
