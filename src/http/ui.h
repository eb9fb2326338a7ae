// The web UI (docs/ui.md): the built files of ui/ served at /ui/, and the read-only native
// endpoints it needs besides Consul's.
#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <span>
#include <string_view>

#include "http/message.h"
#include "server/registry.h"
#include "server/watch_hub.h"

namespace concierge::http {

struct UiFile {
  std::string_view path;  // "/ui/index.html", "/ui/assets/index-1a2b3c.js"
  std::string_view content_type;
  std::string_view etag;  // quoted, from the file's hash
  std::string_view body;
};

// The files of ui/dist, embedded at build time (generated ui_assets.cc).
std::span<const UiFile> UiFiles();

// Answers "/" and "/ui" (redirects to "/ui/") and "/ui/..." (the files; an unknown path
// without a file extension gets index.html, for the UI's own routes). nullopt for any other
// path.
std::optional<Response> ServeUi(const Request& req);

// GET /v1/concierge/heartbeats[?service=NAME]: {check ID: milliseconds since its last
// heartbeat}, for the TTL checks of one service or of all.
// GET /v1/concierge/changes?index=N&wait=D: a blocking query over the whole registry that
// answers {"Index": I} once the registry's index differs from N (or the wait ends), so the UI
// needs one parked request, not one per service.
// GET /v1/concierge/summary?index=N&wait=D: the same blocking query, answering
// {"Index", "Full", "Services": [{"Name", "Index", "Instances", "Passing", "Warning",
// "Critical", "Tags"}]} with the services whose index is past N; every service ("Full": true)
// for N = 0, or when the set of service names changed since N. The overview's data: an update
// of a 100,000-instance catalog moves the services that changed, not the catalog.
// nullopt for any other path.
boost::asio::awaitable<std::optional<Response>> UiEndpoint(const Request& req,
                                                           const server::Registry& registry,
                                                           server::WatchHub& hub);

// The body of GET /v1/concierge/summary once its wait is over: the services whose view changed
// after `since` (every service, "Full": true, for since = 0, a since ahead of the registry, or
// when the set of names changed after it), each with its instance counts by status and tags.
std::string UiSummary(const server::Registry& registry, core::Index since);

}  // namespace concierge::http
