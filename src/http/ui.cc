#include "http/ui.h"

#include <array>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <string>
#include <variant>

#include "core/json_string.h"
#include "core/time.h"

namespace concierge::http {

namespace {

std::string Quoted(std::string_view s) {
  std::string out;
  core::AppendJsonString(out, s);
  return out;
}

namespace asio = boost::asio;

const UiFile* Find(std::string_view path) {
  for (const UiFile& f : UiFiles()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

Response Redirect(std::string location) {
  Response r{302, "text/plain; charset=utf-8", "see " + location + "\n", {}};
  r.headers.emplace_back("Location", std::move(location));
  return r;
}

Response Heartbeats(const Request& req, const server::Registry& registry) {
  std::optional<std::string_view> service = req.Query("service");
  std::string body = "{";
  auto add = [&](const core::Instance& inst) {
    for (const core::Check& c : inst.checks) {
      std::optional<core::Duration> since = registry.SinceHeartbeat(c.id());
      if (!since) continue;
      if (body.size() > 1) body += ',';
      body += Quoted(c.id()) + ':' +
              std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(*since).count());
    }
  };
  if (service) {
    if (auto view = registry.Service(*service)) {
      for (const auto& inst : view->instances) add(*inst);
    }
  } else {
    for (const auto& inst : registry.Instances()) add(*inst);
  }
  Response r = Response::Json(body + "}");
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

// The index and wait of a blocking query (?index=N&wait=D), or the 400 that says what is wrong.
struct BlockingQuery {
  core::Index index = 0;
  std::chrono::milliseconds wait = std::chrono::minutes(5);
};

std::variant<BlockingQuery, Response> ParseBlocking(const Request& req) {
  BlockingQuery b;
  if (auto text = req.Query("index")) {
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), b.index);
    if (ec != std::errc() || p != text->data() + text->size()) {
      return Response::Error(
          400, "index: expected a non-negative integer, got \"" + std::string(*text) + "\"");
    }
  }
  if (auto text = req.Query("wait")) {
    auto d = core::ParseDuration(*text);
    if (!d.ok()) return Response::Error(400, "wait: " + d.status().message());
    b.wait = std::min<std::chrono::milliseconds>(
        std::chrono::duration_cast<std::chrono::milliseconds>(*d), std::chrono::minutes(10));
  }
  return b;
}

// Waits until the registry's index differs from `index` (at once for 0), the wait ends, or
// the client hangs up.
asio::awaitable<void> WaitForChange(const Request& req, const BlockingQuery& b,
                                    const server::Registry& registry, server::WatchHub& hub) {
  if (b.index == 0) co_return;
  std::function<bool()> passed = [&] { return registry.index() != b.index; };
  std::function<void(std::function<void()>)> on_parked;
  if (req.hangup) {
    on_parked = [&req](std::function<void()> wake) { req.hangup->OnHangup(std::move(wake)); };
  }
  co_await hub.Wait(std::string(server::WatchHub::kAnyKey), passed,
                    std::chrono::steady_clock::now() + b.wait, on_parked);
  if (req.hangup) req.hangup->Clear();
}

Response Indexed(std::string body, core::Index index) {
  Response r = Response::Json(std::move(body));
  r.headers.emplace_back("X-Consul-Index", std::to_string(index));
  r.headers.emplace_back("Cache-Control", "no-store");
  return r;
}

asio::awaitable<Response> Changes(const Request& req, const server::Registry& registry,
                                  server::WatchHub& hub) {
  auto parsed = ParseBlocking(req);
  if (auto* error = std::get_if<Response>(&parsed)) co_return std::move(*error);
  co_await WaitForChange(req, std::get<BlockingQuery>(parsed), registry, hub);
  core::Index now = registry.index();
  co_return Indexed("{\"Index\":" + std::to_string(now) + "}", now);
}

asio::awaitable<Response> Summary(const Request& req, const server::Registry& registry,
                                  server::WatchHub& hub) {
  auto parsed = ParseBlocking(req);
  if (auto* error = std::get_if<Response>(&parsed)) co_return std::move(*error);
  const BlockingQuery& b = std::get<BlockingQuery>(parsed);
  co_await WaitForChange(req, b, registry, hub);
  std::string body = UiSummary(registry, b.index);
  co_return Indexed(std::move(body), registry.index());
}

}  // namespace

std::string UiSummary(const server::Registry& registry, core::Index since) {
  // The index first: views are published before it, so none newer than it is missed.
  const core::Index now = registry.index();
  const bool full = since == 0 || since > now || registry.services_index() > since;
  std::string body = "{\"Index\":" + std::to_string(now) +
                     ",\"Full\":" + (full ? "true" : "false") + ",\"Services\":[";
  bool first = true;
  for (const auto& [name, tags] : registry.ServiceNames()) {
    std::shared_ptr<const server::ServiceView> view = registry.Service(name);
    if (!view || (!full && view->index <= since)) continue;
    // Kept by the catalog as records change: no walk over a big service's instances.
    const std::array<std::uint32_t, 3>& counts = view->by_status;
    using core::HealthStatus;
    auto count = [&](HealthStatus st) {
      return std::to_string(counts[static_cast<std::size_t>(st)]);
    };
    if (!first) body += ',';
    first = false;
    body += "{\"Name\":" + Quoted(name) + ",\"Index\":" + std::to_string(view->index) +
            ",\"Instances\":" + std::to_string(view->instances.size()) +
            ",\"Passing\":" + count(HealthStatus::kPassing) +
            ",\"Warning\":" + count(HealthStatus::kWarning) +
            ",\"Critical\":" + count(HealthStatus::kCritical) + ",\"Tags\":[";
    for (std::size_t i = 0; i < tags.size(); ++i) {
      if (i > 0) body += ',';
      body += Quoted(tags[i]);
    }
    body += "]}";
  }
  return body + "]}";
}

std::optional<Response> ServeUi(const Request& req) {
  std::string_view path = req.path;
  if (path == "/" || path == "/ui") return Redirect("/ui/");
  if (!path.starts_with("/ui/")) return std::nullopt;
  if (req.method != "GET" && req.method != "HEAD") {
    Response r = Response::Error(405, "the web UI is read with GET");
    r.headers.emplace_back("Allow", "GET");
    return r;
  }
  const UiFile* file = Find(path == "/ui/" ? "/ui/index.html" : path);
  // The UI routes with "#/..."; a path without an extension still gets the page.
  if (file == nullptr && path.substr(path.rfind('/')).find('.') == std::string_view::npos) {
    file = Find("/ui/index.html");
  }
  if (file == nullptr) {
    return Response::Error(404, "no such file in the web UI: " + req.path +
                                    (UiFiles().empty() ? " (built without ui/dist)" : ""));
  }
  // Vite names assets by their content hash: they never change under one name.
  const bool immutable = file->path.starts_with("/ui/assets/");
  Response r{200, std::string(file->content_type), {}, {}};
  r.headers.emplace_back("ETag", std::string(file->etag));
  r.headers.emplace_back("Cache-Control",
                         immutable ? "public, max-age=31536000, immutable" : "no-cache");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  if (req.Header("If-None-Match") == file->etag) {
    r.status = 304;
    return r;
  }
  if (req.method == "GET") r.body = std::string(file->body);
  return r;
}

asio::awaitable<std::optional<Response>> UiEndpoint(const Request& req,
                                                    const server::Registry& registry,
                                                    server::WatchHub& hub) {
  if (req.path != "/v1/concierge/heartbeats" && req.path != "/v1/concierge/changes" &&
      req.path != "/v1/concierge/summary") {
    co_return std::nullopt;
  }
  if (req.method != "GET" && req.method != "HEAD") {
    // PUT on /v1/concierge/heartbeats (a batch of heartbeats) is routed before this.
    const bool batch = req.path == "/v1/concierge/heartbeats";
    Response r = Response::Error(405, "method " + req.method + " is not allowed on " + req.path +
                                          (batch ? "; use GET, or PUT for a batch" : "; use GET"));
    r.headers.emplace_back("Allow", batch ? "GET, PUT" : "GET");
    co_return r;
  }
  if (req.path == "/v1/concierge/heartbeats") co_return Heartbeats(req, registry);
  if (req.path == "/v1/concierge/summary") co_return co_await Summary(req, registry, hub);
  co_return co_await Changes(req, registry, hub);
}

}  // namespace concierge::http
