#include "server/state_loop.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace concierge::server {

namespace asio = boost::asio;

StateLoop::StateLoop(Registry& registry)
    : registry_(registry), work_(ctx_.get_executor()), timer_(ctx_) {}

StateLoop::~StateLoop() { Stop(); }

void StateLoop::Start() {
  thread_ = std::thread([this] { ctx_.run(); });
}

void StateLoop::Stop() {
  if (!thread_.joinable()) return;
  asio::post(ctx_, [this] {
    timer_.cancel();
    work_.reset();
  });
  thread_.join();
}

asio::awaitable<Result<core::Index>> StateLoop::Submit(core::Command command) {
  // Result has no default state, which co_spawn's completion needs; carry it in an optional.
  // g++ 12 destroys some temporaries passed to coroutines twice (GCC PR 100611): coroutines
  // here take only named values, never temporaries or lambda captures.
  std::optional<Result<core::Index>> result =
      co_await asio::co_spawn(ctx_, ApplyHere(std::move(command)), asio::use_awaitable);
  co_return std::move(*result);
}

asio::awaitable<std::optional<Result<core::Index>>> StateLoop::ApplyHere(core::Command command) {
  Result<core::Index> r = registry_.Apply(registry_.Prepare(std::move(command)));
  ArmTimer();
  registry_.Collect();
  co_return r;
}

void StateLoop::ArmTimer() {
  std::optional<core::Duration> next = registry_.NextTimer();
  if (!next) {
    timer_.cancel();
    return;
  }
  timer_.expires_after(*next);
  timer_.async_wait([this](boost::system::error_code ec) {
    if (ec) return;  // cancelled: re-armed elsewhere, or stopping
    registry_.RunTimers();
    registry_.Collect();
    ArmTimer();
  });
}

}  // namespace concierge::server
