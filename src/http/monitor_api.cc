#include "http/monitor_api.h"

#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "http/stream.h"

namespace concierge::http {

namespace asio = boost::asio;

namespace {

// One reader's lines: waits on a timer that the log sink's wake-up cancels.
class MonitorStream final : public ResponseStream,
                            public std::enable_shared_from_this<MonitorStream> {
 public:
  MonitorStream(server::LogMonitor& monitor, asio::any_io_executor executor)
      : monitor_(monitor), timer_(executor) {}
  ~MonitorStream() override {
    if (subscription_) monitor_.Unsubscribe(subscription_.get());
  }

  // False when the monitor has too many readers.
  bool Subscribe(spdlog::level::level_enum level) {
    std::weak_ptr<MonitorStream> weak = weak_from_this();
    asio::any_io_executor executor = timer_.get_executor();
    // Runs on a logging thread, with logging locked: it only posts.
    subscription_ = monitor_.Subscribe(level, [weak, executor] {
      asio::post(executor, [weak] {
        if (auto self = weak.lock()) self->timer_.cancel();
      });
    });
    return subscription_ != nullptr;
  }

  asio::awaitable<std::optional<std::string>> Next() override {
    for (;;) {
      if (gone_) co_return std::nullopt;
      std::vector<std::string> lines = subscription_->Take();
      if (!lines.empty()) {
        std::string piece;
        for (const std::string& line : lines) piece += line;
        co_return piece;
      }
      timer_.expires_at(asio::steady_timer::time_point::max());
      boost::system::error_code ec;
      co_await timer_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
  }

  void ClientGone() override {
    gone_ = true;
    timer_.cancel();
  }

 private:
  server::LogMonitor& monitor_;
  asio::steady_timer timer_;
  std::shared_ptr<server::LogSubscription> subscription_;
  bool gone_ = false;
};

std::optional<spdlog::level::level_enum> ParseLevel(std::string_view name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn" || name == "warning") return spdlog::level::warn;
  if (name == "err" || name == "error") return spdlog::level::err;
  return std::nullopt;
}

}  // namespace

asio::awaitable<Response> AgentMonitor(const Request& req, server::LogMonitor* monitor) {
  if (monitor == nullptr) co_return Response::Error(501, "this agent has no log monitor");
  std::string_view name = req.Query("loglevel").value_or("info");
  if (name.empty()) name = "info";
  std::optional<spdlog::level::level_enum> level = ParseLevel(name);
  if (!level) {
    co_return Response::Error(400, "loglevel: expected trace, debug, info, warn or error, got \"" +
                                       std::string(name) + "\"");
  }
  if (auto json = req.Query("logjson"); json && *json != "false" && *json != "0") {
    co_return Response::Error(400, "logjson: JSON log lines are not supported; lines are text");
  }
  asio::any_io_executor executor = co_await asio::this_coro::executor;
  auto stream = std::make_shared<MonitorStream>(*monitor, executor);
  if (!stream->Subscribe(*level)) {
    co_return Response::Error(
        429, "too many monitors: " + std::to_string(server::LogMonitor::kMaxReaders) +
                 " are reading this agent's log; close one");
  }
  Response r{200, "text/plain; charset=utf-8", {}, {}};
  r.stream = std::move(stream);
  co_return r;
}

}  // namespace concierge::http
