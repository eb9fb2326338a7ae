// The state thread: the one thread that owns the Registry, orders commands through the
// CommandLog and runs the registry's timers. It is a libuv loop, because libraft runs all of
// its callbacks on one (DEPENDENCY-NOTES.md). I/O threads hand it commands with Submit and
// await the result; nothing else of theirs waits for it (DESIGN.md "Threads").
#pragma once

#include <uv.h>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "core/command.h"
#include "server/command_log.h"
#include "server/registry.h"

namespace concierge::server {

class StateLoop {
 public:
  explicit StateLoop(Registry& registry);
  ~StateLoop();
  StateLoop(const StateLoop&) = delete;
  StateLoop& operator=(const StateLoop&) = delete;

  // The loop, for a CommandLog that needs it (Raft). Use only before Start or on the loop.
  uv_loop_t* loop() { return &loop_; }
  // Replaces the default DirectLog. Before Start only; the log must outlive the loop.
  void set_log(CommandLog* log);

  void Start();
  // Runs the jobs already queued, closes the log, and joins the thread.
  void Stop();

  // From a coroutine on any thread: prepares, validates and appends `command`, and resumes
  // the caller on its own executor with the index or the error.
  boost::asio::awaitable<Result<core::Index>> Submit(core::Command command);
  // Submit for several commands at once (one hop to the state thread, appended in order):
  // resumes the caller once every one has its result, given in the same order.
  boost::asio::awaitable<std::vector<Result<core::Index>>> SubmitAll(
      std::vector<core::Command> commands);

  // From a coroutine: runs `fn(done)` on the state thread and resumes the caller with the
  // Status that `fn` passes to `done` (which may be called later, from a callback).
  using Operation = std::function<void(std::function<void(Status)>)>;
  boost::asio::awaitable<Status> Call(Operation fn);

  // Blocking form of Submit, for threads that are not event loops (start-up, signals).
  Result<core::Index> SubmitAndWait(core::Command command);

  // Runs `fn` on the state thread. Any thread.
  void Post(std::function<void()> fn);
  // Post from a handler running on `ex` (an I/O thread): the loop is woken once that thread
  // has run the other handlers that are ready, so that a burst of requests read together
  // costs the state thread one wake-up and reaches the log as one batch.
  template <typename Executor>
  void PostFrom(const Executor& ex, std::function<void()> fn) {
    if (Enqueue(std::move(fn))) boost::asio::post(ex, [this] { Wake(); });
  }
  // State thread: re-arms the registry's timer after something changed its schedule.
  void ArmTimer();

 private:
  template <typename Token>
  auto AsyncSubmit(core::Command command, Token&& token);
  template <typename Token>
  auto AsyncCall(Operation fn, Token&& token);
  template <typename Token>
  auto AsyncSubmitAll(std::vector<core::Command> commands, Token&& token);
  // Queues a job; true if the queue was empty, so that the caller must wake the loop.
  bool Enqueue(std::function<void()> fn);
  void Wake();
  void SubmitHere(core::Command command, CommandLog::Done done);
  void AppendWrites();
  void Drain();
  void Acknowledge();
  void CloseHandles();

  Registry& registry_;
  DirectLog direct_;
  CommandLog* log_;
  uv_loop_t loop_{};
  // Other threads wake the loop through an eventfd written only when the job queue goes
  // from empty to not empty. Not a uv_async_t: libuv 1.44's loop spins (sched_yield) until
  // the sender's uv_async_send returns, and on a busy machine a sender preempted inside it
  // stalled the state thread for milliseconds.
  int wake_fd_ = -1;
  uv_poll_t wake_{};
  uv_timer_t timer_{};
  uv_prepare_t flush_{};  // publishes what the last loop iteration changed
  // Answers to writes whose commands are applied, given out together once the callbacks of
  // this loop iteration are done: the Raft log has started its next disk write by then, the
  // changed views are published once for all of them, and only then are they answered.
  uv_idle_t ack_{};
  std::vector<std::pair<CommandLog::Done, Result<core::Index>>> acks_;
  std::vector<CommandLog::Write> writes_;  // validated, for the log after this wake-up's jobs
  bool draining_ = false;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::function<void()>> jobs_;
  bool stopping_ = false;
};

template <typename Token>
auto StateLoop::AsyncCall(Operation fn, Token&& token) {
  return boost::asio::async_initiate<Token, void(Status)>(
      [this](auto handler, Operation op) {
        auto ex = boost::asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto work = std::make_shared<boost::asio::executor_work_guard<decltype(ex)>>(ex);
        Post([h, work, op = std::move(op)] {
          op([h, work](Status st) {
            boost::asio::post(work->get_executor(),
                              [h, work, st = std::move(st)]() mutable { (*h)(std::move(st)); });
          });
        });
      },
      token, std::move(fn));
}

template <typename Token>
auto StateLoop::AsyncSubmit(core::Command command, Token&& token) {
  return boost::asio::async_initiate<Token, void(Result<core::Index>)>(
      [this](auto handler, core::Command cmd) {
        // The handler resumes the caller; it is move-only, so it travels in a shared_ptr, and
        // a work guard keeps the caller's executor alive until then.
        auto ex = boost::asio::get_associated_executor(handler);
        auto h = std::make_shared<decltype(handler)>(std::move(handler));
        auto work = std::make_shared<boost::asio::executor_work_guard<decltype(ex)>>(ex);
        PostFrom(ex, [this, h, work, cmd = std::move(cmd)]() mutable {
          SubmitHere(std::move(cmd), [h, work](Result<core::Index> r) {
            boost::asio::post(work->get_executor(),
                              [h, work, r = std::move(r)]() mutable { (*h)(std::move(r)); });
          });
        });
      },
      token, std::move(command));
}

template <typename Token>
auto StateLoop::AsyncSubmitAll(std::vector<core::Command> commands, Token&& token) {
  using Results = std::vector<Result<core::Index>>;
  return boost::asio::async_initiate<Token, void(Results)>(
      [this](auto handler, std::vector<core::Command> cmds) {
        auto ex = boost::asio::get_associated_executor(handler);
        using Handler = decltype(handler);
        struct Pending {
          Handler handler;
          boost::asio::executor_work_guard<decltype(ex)> work;
          Results results;
          std::size_t left;
        };
        auto p = std::make_shared<Pending>(
            Pending{std::move(handler), boost::asio::executor_work_guard<decltype(ex)>(ex),
                    Results(cmds.size(), Status::Internal("not submitted")), cmds.size()});
        PostFrom(ex, [this, p, cmds = std::move(cmds)]() mutable {
          auto finish = [p] {
            boost::asio::post(p->work.get_executor(), [p] { p->handler(std::move(p->results)); });
          };
          if (cmds.empty()) {
            finish();
            return;
          }
          for (std::size_t i = 0; i < cmds.size(); ++i) {
            SubmitHere(std::move(cmds[i]), [p, i, finish](Result<core::Index> r) {
              p->results[i] = std::move(r);
              if (--p->left == 0) finish();
            });
          }
        });
      },
      token, std::move(commands));
}

}  // namespace concierge::server
