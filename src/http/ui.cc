#include "http/ui.h"

#include <array>
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

const UiFile* Find(std::string_view path) {
  for (const UiFile& f : UiFiles()) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

}  // namespace

Response RedirectToUi() {
  Response r{302, "text/plain; charset=utf-8", "see /ui/\n", {}};
  r.headers.emplace_back("Location", "/ui/");
  return r;
}

Response UiHeartbeats(const Request& req, const server::Registry& registry) {
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

Response ServeUiFile(const Request& req, std::string_view name) {
  const std::string path = "/ui/" + std::string(name.empty() ? "index.html" : name);
  const UiFile* file = Find(path);
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

}  // namespace concierge::http
