#include "server/check_runner.h"

#include <signal.h>
#include <spdlog/spdlog.h>

#include <array>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <filesystem>
#include <limits>

#include "server/grpc_health.h"
#include "server/log_limit.h"
#include "server/metrics.h"
#include "server/script_process.h"

namespace concierge::server {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using core::HealthStatus;

struct CheckRunner::Entry {
  Entry(std::string service, core::CheckDefinition def, HealthStatus s)
      : service_id(std::move(service)),
        definition(std::move(def)),
        status(s),
        filter(definition.active->success_before_passing,
               definition.active->failures_before_critical) {}

  std::string service_id;
  core::CheckDefinition definition;
  HealthStatus status;  // the catalog's
  FlapFilter filter;
  // Bumps on every start and stop: a loop whose generation is no longer current ends.
  std::uint64_t generation = 0;
  // What the current loop waits on, to cancel it at once when the check stops.
  asio::steady_timer* timer = nullptr;
  beast::tcp_stream* in_flight = nullptr;
  tcp::resolver* resolving = nullptr;
  // Ends the run in flight of the kinds without a stream above (UDP, processes).
  std::function<void()> cancel;
  std::uint64_t cancel_owner = 0;
};

namespace {

// Clears a pointer that an entry holds to a local of a coroutine, if it still does.
template <typename T>
class Borrow {
 public:
  Borrow(T** slot, T* value) : slot_(slot), value_(value) { *slot_ = value_; }
  ~Borrow() {
    if (*slot_ == value_) *slot_ = nullptr;
  }
  Borrow(const Borrow&) = delete;
  Borrow& operator=(const Borrow&) = delete;

 private:
  T** slot_;
  T* value_;
};

// Sets what cancels the run in flight, for the lifetime of the run.
class CancelHook {
 public:
  CancelHook(CheckRunner::Entry& entry, std::function<void()> cancel) : entry_(entry) {
    static std::uint64_t next = 0;
    owner_ = ++next;
    entry_.cancel = std::move(cancel);
    entry_.cancel_owner = owner_;
  }
  ~CancelHook() {
    if (entry_.cancel_owner == owner_) entry_.cancel = nullptr;
  }
  CancelHook(const CancelHook&) = delete;
  CancelHook& operator=(const CancelHook&) = delete;

 private:
  CheckRunner::Entry& entry_;
  std::uint64_t owner_ = 0;
};

std::string Describe(const boost::system::error_code& ec, core::Duration timeout) {
  if (ec == beast::error::timeout) return "timed out after " + core::FormatDuration(timeout);
  return ec.message();
}

// Runs `session` over a connected `stream` (plain or TLS) until it is done: "" or the error.
template <typename Stream>
asio::awaitable<std::string> DriveHttp2(Stream& stream, H2Session& session,
                                        core::Duration timeout) {
  std::array<char, 16384> buffer{};
  boost::system::error_code ec;
  for (;;) {
    std::string out = session.Pending();
    if (!session.error().empty()) co_return "HTTP/2: " + session.error();
    if (!out.empty()) {
      co_await asio::async_write(stream, asio::buffer(out),
                                 asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return Describe(ec, timeout);
    }
    if (session.done()) co_return "";
    if (!session.want_read()) co_return "the server ended the HTTP/2 session";
    std::size_t n = co_await stream.async_read_some(asio::buffer(buffer),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec == asio::error::eof) co_return "the server closed the connection";
    if (ec) co_return Describe(ec, timeout);
    if (!session.Feed(buffer.data(), n)) co_return "HTTP/2: " + session.error();
  }
}

// The Host header: the URL's host, and its port unless it is 80; IPv6 in brackets.
std::string HostHeader(const core::HttpUrl& url) {
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  return url.port == 80 ? host : host + ":" + std::to_string(url.port);
}

}  // namespace

struct CheckRunner::TlsContexts {
  TlsContexts() {
    for (asio::ssl::context* ctx : {&verify, &insecure}) {
      ctx->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                       asio::ssl::context::no_tlsv1_1);
      // gRPC and H2PING speak HTTP/2 over TLS: ALPN "h2".
      static const unsigned char kAlpn[] = {2, 'h', '2'};
      SSL_CTX_set_alpn_protos(ctx->native_handle(), kAlpn, sizeof(kAlpn));
    }
    boost::system::error_code ec;
    verify.set_default_verify_paths(ec);
    verify.set_verify_mode(asio::ssl::verify_peer);
    insecure.set_verify_mode(asio::ssl::verify_none);
  }
  asio::ssl::context verify{asio::ssl::context::tls_client};
  asio::ssl::context insecure{asio::ssl::context::tls_client};
};

CheckRunner::CheckRunner(Metrics& metrics, Propose propose, std::size_t max_output_bytes)
    : metrics_(metrics),
      propose_(std::move(propose)),
      tls_(std::make_unique<TlsContexts>()),
      max_output_(max_output_bytes) {}

CheckRunner::~CheckRunner() { Stop(); }

void CheckRunner::Start() {
  work_.emplace(asio::make_work_guard(ctx_));
  thread_ = std::thread([this] { ctx_.run(); });
}

void CheckRunner::Stop() {
  if (!thread_.joinable()) return;
  asio::post(ctx_, [this] {
    stopping_ = true;
    for (auto& [id, entry] : entries_) StopLoop(*entry);
    if (loops_ == 0) return;
    // In-flight runs end at once when cancelled, except a name lookup, which cannot be
    // interrupted: do not wait for it for long.
    stop_deadline_.expires_after(std::chrono::seconds(2));
    stop_deadline_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) ctx_.stop();
    });
  });
  work_.reset();
  thread_.join();
}

void CheckRunner::Track(std::string_view service_id, const core::CheckDefinition& definition,
                        HealthStatus status) {
  asio::post(ctx_, [this, service = std::string(service_id), definition, status] {
    std::string id = definition.id.str();
    if (auto it = entries_.find(id); it != entries_.end()) StopLoop(*it->second);
    auto entry = std::make_shared<Entry>(service, definition, status);
    entries_[id] = entry;
    count_.store(entries_.size(), std::memory_order_relaxed);
    metrics_.active_checks.Set(static_cast<std::int64_t>(entries_.size()));
    if (leader_ && !stopping_) StartLoop(entry);
  });
}

void CheckRunner::Untrack(std::string_view check_id) {
  asio::post(ctx_, [this, check_id = std::string(check_id)] {
    auto it = entries_.find(check_id);
    if (it == entries_.end()) return;
    StopLoop(*it->second);
    entries_.erase(it);
    count_.store(entries_.size(), std::memory_order_relaxed);
    metrics_.active_checks.Set(static_cast<std::int64_t>(entries_.size()));
  });
}

void CheckRunner::StatusChanged(std::string_view check_id, HealthStatus status) {
  asio::post(ctx_, [this, check_id = std::string(check_id), status] {
    if (auto it = entries_.find(check_id); it != entries_.end()) it->second->status = status;
  });
}

void CheckRunner::SetLeader(bool leader) {
  asio::post(ctx_, [this, leader] {
    if (leader == leader_) return;
    leader_ = leader;
    for (auto& [id, entry] : entries_) {
      if (leader && !stopping_) {
        StartLoop(entry);
      } else {
        StopLoop(*entry);
      }
    }
  });
}

void CheckRunner::StartLoop(const std::shared_ptr<Entry>& entry) {
  StopLoop(*entry);
  ++loops_;
  asio::co_spawn(ctx_, Loop(entry, entry->generation), [](const std::exception_ptr& error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      RateLimitedError("active check stopped by an unexpected error: {}", e.what());
    }
  });
}

void CheckRunner::StopLoop(Entry& entry) {
  ++entry.generation;
  // A new leader (or a redefined check) counts its runs afresh.
  entry.filter.Reset();
  if (entry.timer != nullptr) entry.timer->cancel();
  if (entry.in_flight != nullptr) entry.in_flight->cancel();
  if (entry.resolving != nullptr) entry.resolving->cancel();
  if (entry.cancel) entry.cancel();
}

void CheckRunner::LoopEnded() {
  --loops_;
  if (stopping_ && loops_ == 0) stop_deadline_.cancel();
}

asio::awaitable<void> CheckRunner::Loop(std::shared_ptr<Entry> entry, std::uint64_t generation) {
  asio::steady_timer timer(ctx_);
  Borrow<asio::steady_timer> borrow(&entry->timer, &timer);
  const core::Duration interval = entry->definition.active->interval;
  auto next = std::chrono::steady_clock::now() + FirstRunOffset(entry->definition.id, interval);
  for (;;) {
    timer.expires_at(next);
    boost::system::error_code ec;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    if (entry->generation != generation) break;
    Outcome outcome;
    switch (entry->definition.kind) {
      case core::CheckKind::kHttp:
        outcome = co_await RunHttp(entry);
        break;
      case core::CheckKind::kUdp:
        outcome = co_await RunUdp(entry);
        break;
      case core::CheckKind::kScript:
        outcome = co_await RunScript(entry);
        break;
      case core::CheckKind::kOsService:
        outcome = co_await RunOsService(entry);
        break;
      case core::CheckKind::kGrpc:
        outcome = co_await RunGrpc(entry);
        break;
      case core::CheckKind::kH2Ping:
        outcome = co_await RunH2Ping(entry);
        break;
      default:
        outcome = co_await RunTcp(entry);
        break;
    }
    if (entry->generation != generation) break;
    runs_.fetch_add(1, std::memory_order_relaxed);
    metrics_.active_check_runs[static_cast<std::size_t>(outcome.status)].Inc();
    spdlog::trace("check {}: {}: {}", entry->definition.id, core::ToString(outcome.status),
                  outcome.output);
    Report(*entry, std::move(outcome));
    // Every interval from the first run; a run longer than the interval skips the slots it
    // overran instead of running late ones back to back.
    next += interval;
    auto now = std::chrono::steady_clock::now();
    if (next <= now) next += ((now - next) / interval + 1) * interval;
  }
  LoopEnded();
}

void CheckRunner::Report(Entry& entry, Outcome outcome) {
  std::optional<HealthStatus> status = entry.filter.Observe(outcome.status);
  if (!status || *status == entry.status) return;
  propose_(core::UpdateCheck{entry.definition.id.str(),
                             *status,
                             std::move(outcome.output),
                             {},
                             core::CheckCause::kActiveCheck});
}

asio::awaitable<boost::system::error_code> CheckRunner::Resolve(
    std::shared_ptr<Entry> entry, std::string host, std::uint16_t port,
    std::vector<tcp::endpoint>* endpoints) {
  boost::system::error_code ec;
  asio::ip::address address = asio::ip::make_address(host, ec);
  if (!ec) {
    endpoints->emplace_back(address, port);
    co_return ec;
  }
  tcp::resolver resolver(ctx_);
  Borrow<tcp::resolver> borrow(&entry->resolving, &resolver);
  tcp::resolver::results_type results = co_await resolver.async_resolve(
      host, std::to_string(port), asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return ec;
  for (const auto& r : results) endpoints->push_back(r.endpoint());
  co_return ec;
}

std::string CheckRunner::KeepAllowed(std::vector<tcp::endpoint>* endpoints) const {
  if (allowed_.empty()) return "";
  std::string refused;
  std::erase_if(*endpoints, [&](const tcp::endpoint& e) {
    if (allowed_.Allows(e.address())) return false;
    if (refused.empty()) refused = e.address().to_string();
    return true;
  });
  if (!endpoints->empty()) return "";
  return "address " + refused + " is outside -check-allowed-networks (" + allowed_.ToString() +
         "); not contacted";
}

asio::awaitable<CheckRunner::Outcome> CheckRunner::RunHttp(std::shared_ptr<Entry> entry) {
  const core::ActiveCheck& a = *entry->definition.active;
  auto url = core::ParseHttpUrl(a.target);
  if (!url.ok()) co_return Outcome{HealthStatus::kCritical, url.status().message()};
  auto fail = [&](std::string_view error) {
    return Outcome{HealthStatus::kCritical, HttpCheckError(a.method, a.target, error, max_output_)};
  };
  // One deadline for the whole run: connect, request and response.
  const auto deadline = std::chrono::steady_clock::now() + a.timeout;
  std::vector<tcp::endpoint> endpoints;
  std::string host = url->host;
  boost::system::error_code ec = co_await Resolve(entry, host, url->port, &endpoints);
  if (ec) co_return fail("lookup " + url->host + ": " + ec.message());
  if (std::string refused = KeepAllowed(&endpoints); !refused.empty()) co_return fail(refused);
  if (std::chrono::steady_clock::now() >= deadline) {
    co_return fail("timed out after " + core::FormatDuration(a.timeout));
  }
  beast::tcp_stream stream(ctx_);
  Borrow<beast::tcp_stream> borrow(&entry->in_flight, &stream);
  stream.expires_at(deadline);
  co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fail(Describe(ec, a.timeout));

  bhttp::request<bhttp::string_body> req;
  req.version(11);
  req.method_string(a.method);
  req.target(url->target);
  req.set(bhttp::field::host, HostHeader(*url));
  req.set(bhttp::field::user_agent, "Concierge Health Check");
  req.set(bhttp::field::accept, "text/plain, text/*, */*");
  for (const auto& [name, value] : a.headers) {
    // The check's own Host or User-Agent replaces ours; other names may repeat.
    if (beast::iequals(name, "Host") || beast::iequals(name, "User-Agent") ||
        beast::iequals(name, "Accept")) {
      req.set(name, value);
    } else {
      req.insert(name, value);
    }
  }
  req.set(bhttp::field::connection, "close");
  req.body() = a.body;
  req.prepare_payload();
  co_await bhttp::async_write(stream, req, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fail(Describe(ec, a.timeout));

  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::buffer_body> parser;
  parser.header_limit(16 * 1024);
  // Read at most max_output_ bytes of it, below, whatever its length.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  if (beast::iequals(a.method, "HEAD")) parser.skip(true);
  co_await bhttp::async_read_header(stream, buffer, parser,
                                    asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return fail(Describe(ec, a.timeout));
  // The body, up to the output limit; the status code decides even if the rest of the body
  // is slow or cut short, as Consul does.
  std::string body(max_output_, '\0');
  parser.get().body().data = body.data();
  parser.get().body().size = body.size();
  parser.get().body().more = true;
  if (!parser.is_done()) {
    co_await bhttp::async_read(stream, buffer, parser,
                               asio::redirect_error(asio::use_awaitable, ec));
  }
  body.resize(body.size() - parser.get().body().size);
  const int code = static_cast<int>(parser.get().result_int());
  std::string_view reason(parser.get().reason().data(), parser.get().reason().size());
  co_return Outcome{StatusOfHttpCode(code),
                    HttpCheckOutput(a.method, a.target, code, reason, body, max_output_)};
}

asio::awaitable<CheckRunner::Outcome> CheckRunner::RunTcp(std::shared_ptr<Entry> entry) {
  const core::ActiveCheck& a = *entry->definition.active;
  auto target = core::ParseHostPort(a.target);
  if (!target.ok()) co_return Outcome{HealthStatus::kCritical, target.status().message()};
  const auto deadline = std::chrono::steady_clock::now() + a.timeout;
  std::vector<tcp::endpoint> endpoints;
  std::string host = target->host;
  boost::system::error_code ec = co_await Resolve(entry, host, target->port, &endpoints);
  if (ec) {
    co_return Outcome{
        HealthStatus::kCritical,
        TcpCheckOutput(a.target, "lookup " + host + ": " + ec.message(), max_output_)};
  }
  if (std::string refused = KeepAllowed(&endpoints); !refused.empty()) {
    co_return Outcome{HealthStatus::kCritical, TcpCheckOutput(a.target, refused, max_output_)};
  }
  beast::tcp_stream stream(ctx_);
  Borrow<beast::tcp_stream> borrow(&entry->in_flight, &stream);
  stream.expires_at(deadline);
  co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    co_return Outcome{HealthStatus::kCritical,
                      TcpCheckOutput(a.target, Describe(ec, a.timeout), max_output_)};
  }
  co_return Outcome{HealthStatus::kPassing, TcpCheckOutput(a.target, "", max_output_)};
}

asio::awaitable<CheckRunner::Outcome> CheckRunner::RunUdp(std::shared_ptr<Entry> entry) {
  using udp = asio::ip::udp;
  const core::ActiveCheck& a = *entry->definition.active;
  auto fail = [&](std::string_view error) {
    return Outcome{HealthStatus::kCritical, UdpCheckOutput(a.target, error, max_output_)};
  };
  auto target = core::ParseHostPort(a.target, "UDP");
  if (!target.ok()) co_return Outcome{HealthStatus::kCritical, target.status().message()};
  std::vector<tcp::endpoint> endpoints;
  std::string host = target->host;
  boost::system::error_code ec = co_await Resolve(entry, host, target->port, &endpoints);
  if (ec) co_return fail("lookup " + host + ": " + ec.message());
  if (std::string refused = KeepAllowed(&endpoints); !refused.empty()) co_return fail(refused);
  const udp::endpoint peer(endpoints.front().address(), endpoints.front().port());
  udp::socket socket(ctx_);
  socket.open(peer.protocol(), ec);
  // Connected, so that an ICMP "port unreachable" comes back as an error on the receive.
  if (!ec) socket.connect(peer, ec);
  if (ec) co_return fail(ec.message());
  // The deadline ends the receive; `done` keeps a late timer from touching this frame.
  struct Shared {
    bool done = false;
    bool timed_out = false;
  };
  auto shared = std::make_shared<Shared>();
  CancelHook hook(*entry, [shared, &socket] {
    if (!shared->done) socket.cancel();
  });
  asio::steady_timer deadline(ctx_);
  deadline.expires_after(a.timeout);
  deadline.async_wait([shared, &socket](const boost::system::error_code& e) {
    if (e || shared->done) return;
    shared->timed_out = true;
    socket.cancel();
  });
  static constexpr std::string_view kPayload = "Concierge health check";
  co_await socket.async_send(asio::buffer(kPayload.data(), kPayload.size()),
                             asio::redirect_error(asio::use_awaitable, ec));
  std::array<char, 512> reply{};
  if (!ec) {
    co_await socket.async_receive(asio::buffer(reply),
                                  asio::redirect_error(asio::use_awaitable, ec));
  }
  shared->done = true;
  deadline.cancel();
  // As Consul's: a reply, or no error within the timeout (UDP has no handshake), is passing.
  if (!ec || shared->timed_out) co_return Outcome{HealthStatus::kPassing, fail("").output};
  co_return fail(ec.message());
}

asio::awaitable<CheckRunner::ProcessResult> CheckRunner::RunProcess(std::shared_ptr<Entry> entry,
                                                                    std::vector<std::string> args,
                                                                    core::Duration timeout) {
  ProcessResult result;
  auto process = ScriptProcess::Start(args);
  if (!process.ok()) {
    result.error = process.status().message();
    co_return result;
  }
  asio::posix::stream_descriptor output(ctx_, process->ReleaseOutput());
  asio::posix::stream_descriptor exited(ctx_, process->ReleasePidfd());
  // The deadline (or a stop) kills the process group; `done` keeps a late timer from
  // touching this frame or a reused process ID.
  struct Shared {
    bool done = false;
    bool timed_out = false;
  };
  auto shared = std::make_shared<Shared>();
  const pid_t pid = process->pid();
  auto kill = [shared, pid, &output] {
    if (shared->done) return;
    ::kill(-pid, SIGKILL);
    output.cancel();
  };
  CancelHook hook(*entry, kill);
  asio::steady_timer deadline(ctx_);
  deadline.expires_after(timeout);
  deadline.async_wait([shared, kill](const boost::system::error_code& e) {
    if (e || shared->done) return;
    shared->timed_out = true;
    kill();
  });
  // Output until the process (and what it started) closes it; beyond the limit it is read
  // and dropped, so that the process never blocks on a full pipe.
  std::array<char, 4096> chunk{};
  std::size_t total = 0;
  boost::system::error_code ec;
  for (;;) {
    std::size_t n = co_await output.async_read_some(asio::buffer(chunk),
                                                    asio::redirect_error(asio::use_awaitable, ec));
    if (ec) break;
    total += n;
    if (result.output.size() < max_output_) {
      result.output.append(chunk.data(), std::min(n, max_output_ - result.output.size()));
    }
  }
  co_await exited.async_wait(asio::posix::descriptor_base::wait_read,
                             asio::redirect_error(asio::use_awaitable, ec));
  result.exit_code = process->Reap();
  shared->done = true;
  deadline.cancel();
  result.timed_out = shared->timed_out;
  if (total > result.output.size()) {
    std::string note = "\n[output cut: " + std::to_string(total) + " bytes, the first " +
                       std::to_string(max_output_) + " kept]";
    result.output.resize(max_output_ > note.size() ? max_output_ - note.size() : 0);
    result.output += note;
  }
  co_return result;
}

asio::awaitable<CheckRunner::Outcome> CheckRunner::RunScript(std::shared_ptr<Entry> entry) {
  const core::ActiveCheck& a = *entry->definition.active;
  if (!enable_scripts_) {
    co_return Outcome{HealthStatus::kCritical,
                      "script checks are disabled on the leader; start it with "
                      "-enable-script-checks to run them"};
  }
  ProcessResult r = co_await RunProcess(entry, a.args, a.timeout);
  if (r.timed_out) {
    co_return Outcome{HealthStatus::kCritical,
                      "Timed out (" + core::FormatDuration(a.timeout) + ") running check"};
  }
  if (!r.error.empty()) co_return Outcome{HealthStatus::kCritical, r.error};
  co_return Outcome{StatusOfExitCode(r.exit_code), std::move(r.output)};
}

asio::awaitable<CheckRunner::Outcome> CheckRunner::RunOsService(std::shared_ptr<Entry> entry) {
  const core::ActiveCheck& a = *entry->definition.active;
  // systemd's own test for "booted with systemd" (sd_booted).
  std::error_code ec;
  if (!std::filesystem::exists("/run/systemd/system", ec)) {
    co_return Outcome{HealthStatus::kCritical,
                      "systemd is not running on this host; OSService checks need it"};
  }
  std::vector<std::string> args{"systemctl", "is-active", "--", a.target};
  ProcessResult r = co_await RunProcess(entry, std::move(args), a.timeout);
  if (r.timed_out) {
    co_return Outcome{HealthStatus::kCritical,
                      "Timed out (" + core::FormatDuration(a.timeout) + ") asking systemd"};
  }
  if (!r.error.empty()) co_return Outcome{HealthStatus::kCritical, r.error};
  std::string state = r.output.substr(0, r.output.find('\n'));
  co_return Outcome{StatusOfUnitState(state), "Service \"" + a.target + "\" is " + state};
}

asio::awaitable<std::string> CheckRunner::RunHttp2(std::shared_ptr<Entry> entry,
                                                   core::HostPort address, bool tls,
                                                   bool skip_verify, H2Session* session) {
  const core::ActiveCheck& a = *entry->definition.active;
  const auto deadline = std::chrono::steady_clock::now() + a.timeout;
  std::vector<tcp::endpoint> endpoints;
  boost::system::error_code ec = co_await Resolve(entry, address.host, address.port, &endpoints);
  if (ec) co_return "lookup " + address.host + ": " + ec.message();
  if (std::string refused = KeepAllowed(&endpoints); !refused.empty()) co_return refused;
  if (std::chrono::steady_clock::now() >= deadline) {
    co_return "timed out after " + core::FormatDuration(a.timeout);
  }
  beast::tcp_stream stream(ctx_);
  Borrow<beast::tcp_stream> borrow(&entry->in_flight, &stream);
  stream.expires_at(deadline);
  co_await stream.async_connect(endpoints, asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return "dial tcp: " + Describe(ec, a.timeout);
  if (!tls) co_return co_await DriveHttp2(stream, *session, a.timeout);

  asio::ssl::stream<beast::tcp_stream&> secure(stream, skip_verify ? tls_->insecure : tls_->verify);
  SSL* ssl = secure.native_handle();
  boost::system::error_code not_ip;
  asio::ip::make_address(address.host, not_ip);
  if (not_ip) SSL_set_tlsext_host_name(ssl, address.host.c_str());
  if (!skip_verify) {
    // The certificate must name the host (or the IP address) the check connects to.
    if (not_ip) {
      SSL_set1_host(ssl, address.host.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), address.host.c_str());
    }
  }
  co_await secure.async_handshake(asio::ssl::stream_base::client,
                                  asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    if (ec == beast::error::timeout) co_return "TLS handshake: " + Describe(ec, a.timeout);
    const long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      co_return std::string("TLS handshake: certificate verify failed: ") +
          X509_verify_cert_error_string(verify) + " (TLSSkipVerify skips the check)";
    }
    co_return "TLS handshake: " + ec.message();
  }
  co_return co_await DriveHttp2(secure, *session, a.timeout);
}

asio::awaitable<CheckRunner::Outcome> CheckRunner::RunGrpc(std::shared_ptr<Entry> entry) {
  const core::ActiveCheck& a = *entry->definition.active;
  auto target = core::ParseGrpcTarget(a.target);
  if (!target.ok()) co_return Outcome{HealthStatus::kCritical, target.status().message()};
  auto fail = [&](std::string_view why) {
    return Outcome{HealthStatus::kCritical,
                   std::string("gRPC check ") + a.target + ": " + std::string(why)};
  };
  const core::HostPort& address = target->address;
  std::string authority = address.host.find(':') != std::string::npos
                              ? "[" + address.host + "]:" + std::to_string(address.port)
                              : address.host + ":" + std::to_string(address.port);
  H2Session session(H2Session::Request{a.use_tls ? "https" : "http", std::move(authority),
                                       std::string(kGrpcHealthCheckPath),
                                       EncodeHealthCheckRequest(target->service)});
  std::string error = co_await RunHttp2(entry, address, a.use_tls, a.tls_skip_verify, &session);
  if (!error.empty()) co_return fail(error);
  if (!session.stream_error().empty()) {
    co_return fail("the server reset the stream: " + session.stream_error());
  }
  if (session.http_status() != 200) {
    co_return fail("HTTP status " + std::to_string(session.http_status()) +
                   " (not a gRPC server?)");
  }
  if (!session.grpc_status()) co_return fail("no grpc-status in the response");
  if (*session.grpc_status() != 0) {
    co_return fail("rpc error: code = " + GrpcCodeName(*session.grpc_status()) +
                   " desc = " + session.grpc_message());
  }
  std::optional<int> serving = DecodeHealthCheckResponse(session.data());
  if (!serving) co_return fail("the response is not a HealthCheckResponse");
  if (*serving != kServing) co_return fail("serving status " + ServingStatusName(*serving));
  co_return Outcome{HealthStatus::kPassing, "gRPC check " + a.target + ": success"};
}

asio::awaitable<CheckRunner::Outcome> CheckRunner::RunH2Ping(std::shared_ptr<Entry> entry) {
  const core::ActiveCheck& a = *entry->definition.active;
  auto target = core::ParseHostPort(a.target, "H2PING");
  if (!target.ok()) co_return Outcome{HealthStatus::kCritical, target.status().message()};
  H2Session session;
  std::string error = co_await RunHttp2(entry, *target, a.use_tls, a.tls_skip_verify, &session);
  if (!error.empty()) {
    co_return Outcome{HealthStatus::kCritical, "HTTP2 ping " + a.target + " failed: " + error};
  }
  co_return Outcome{HealthStatus::kPassing, "HTTP2 ping was successful"};
}

}  // namespace concierge::server
