// The state thread: the one thread that applies commands to the Registry and runs its
// timers. I/O threads hand it commands with Submit and await the result; nothing else of
// theirs waits for it (DESIGN.md "Threads").
#pragma once

#include <thread>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/command.h"
#include "server/registry.h"

namespace concierge::server {

class StateLoop {
 public:
  explicit StateLoop(Registry& registry);
  ~StateLoop();
  StateLoop(const StateLoop&) = delete;
  StateLoop& operator=(const StateLoop&) = delete;

  void Start();
  // Stops the thread after the commands already queued have run.
  void Stop();

  // From a coroutine on any thread: prepares and applies `command` on the state thread and
  // resumes the caller on its own executor with the index or the error.
  boost::asio::awaitable<Result<core::Index>> Submit(core::Command command);

  // Runs `fn` on the state thread (e.g. registering services from the config at start).
  template <typename F>
  void Post(F&& fn) {
    boost::asio::post(ctx_, std::forward<F>(fn));
  }

 private:
  void ArmTimer();
  boost::asio::awaitable<std::optional<Result<core::Index>>> ApplyHere(core::Command command);

  Registry& registry_;
  boost::asio::io_context ctx_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::steady_timer timer_;
  std::thread thread_;
};

}  // namespace concierge::server
