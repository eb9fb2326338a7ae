// The web UI (docs/ui.md): the built files of ui/ served at /ui/, and the read-only native
// endpoint it needs besides Consul's.
#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "http/message.h"
#include "server/registry.h"

namespace concierge::http {

struct UiFile {
  std::string_view path;  // "/ui/index.html", "/ui/assets/index-1a2b3c.js"
  std::string_view content_type;
  std::string_view etag;  // quoted, from the file's hash
  std::string_view body;
};

// The files of ui/dist, embedded at build time (generated ui_assets.cc).
std::span<const UiFile> UiFiles();

// GET / and /ui: a redirect to /ui/.
Response RedirectToUi();
// GET /ui/<name>: a file of the UI ("" is index.html); an unknown name without a file
// extension gets index.html, for the UI's own routes.
Response ServeUiFile(const Request& req, std::string_view name);

// GET /v1/concierge/heartbeats[?service=NAME]: {check ID: milliseconds since its last
// heartbeat}, for the TTL checks of one service or of all. (GET /v1/concierge/changes, the
// UI's blocking query over the whole registry, is ConsulApi's.)
Response UiHeartbeats(const Request& req, const server::Registry& registry);

// GET /v1/concierge/summary?index=N&wait=D (blocking on any change): {"Index", "Full",
// "Services": [{"Name", "Index", "Instances", "Passing", "Warning", "Critical", "Tags"}]} with
// the services whose index is past N (`since`); every service ("Full": true) for N = 0, or
// when the set of service names changed since N. The overview's data: an update of a
// 100,000-instance catalog moves the services that changed, not the catalog.
std::string UiSummary(const server::Registry& registry, core::Index since);

}  // namespace concierge::http
