#include "cli/sidecar.h"

#include <pthread.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <ctime>
#include <iostream>
#include <mutex>
#include <optional>

#include "cli/args.h"
#include "cli/security_flags.h"
#include "client/http_client.h"
#include "concierge/client.h"
#include "concierge/heartbeater.h"
#include "core/time.h"

namespace concierge::cli {
namespace {

constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

void Log(const std::string& line) {
  static std::mutex mutex;
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char now[32];
  std::strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::lock_guard lock(mutex);
  std::cerr << now << " sidecar: " << line << std::endl;
}

int Usage(const std::string& message) {
  std::cerr << "sidecar: " << message << "\nRun with --help for more information.\n";
  return kExitUsage;
}

// "http://host:port/path" -> address and target.
struct HttpUrl {
  std::string address;
  std::string target;
};

Result<HttpUrl> ParseHttpUrl(const std::string& url) {
  constexpr std::string_view kScheme = "http://";
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("-check-http \"" + url + "\": " + why +
                                   ", expected a URL like http://127.0.0.1:8080/health");
  };
  if (!url.starts_with(kScheme)) return bad("only http:// URLs are supported");
  std::string rest = url.substr(kScheme.size());
  std::size_t slash = rest.find('/');
  HttpUrl out{rest.substr(0, slash), slash == std::string::npos ? "/" : rest.substr(slash)};
  if (out.address.find(':') == std::string::npos || out.address.back() == ']') {
    out.address += ":80";
  }
  Result<client::HostPort> parsed = client::ParseHostPort(out.address);
  if (!parsed.ok()) return bad(parsed.status().message());
  return out;
}

// GET url; 2xx is healthy. Remembers the last outcome to log only transitions.
class HttpProbe {
 public:
  HttpProbe(HttpUrl url, client::HttpClient client)
      : url_(std::move(url)), client_(std::move(client)) {}

  Status Check() {
    Result<client::Response> r = client_.Get(url_.target);
    Status st = Status::Ok();
    if (!r.ok()) {
      st = Status::Unavailable("GET " + url_.target + ": " + r.status().message());
    } else if (r->status < 200 || r->status >= 300) {
      st = Status::Unavailable("GET http://" + url_.address + url_.target + " answered " +
                               std::to_string(r->status));
    }
    if (!last_ || last_->ok() != st.ok()) {
      Log(st.ok() ? "local check passes: heartbeating as passing"
                  : "local check fails: " + st.message());
    }
    last_ = st;
    return st;
  }

 private:
  HttpUrl url_;
  client::HttpClient client_;
  std::optional<Status> last_;
};

}  // namespace

int RunSidecar(const std::vector<std::string>& args) {
  CLI::App app{
      "Register a service instance on behalf of a process, heartbeat while its local health "
      "endpoint answers 2xx, and deregister it on SIGINT or SIGTERM.",
      "concierge sidecar"};
  std::string addresses = "127.0.0.1:8500";
  ServiceRegistration reg;
  std::string ttl = "10s";
  std::string check_http;
  std::string check_interval;
  std::string deregister_after;
  std::uint16_t port = 0;
  app.add_option("--service", reg.name, "Service name")->required();
  app.add_option("--id", reg.id, "Instance ID (default: <service>-<port>)");
  app.add_option("--port", port, "The process's port")->required();
  app.add_option("--address", reg.address,
                 "The process's address (default: the address the registry sees)");
  app.add_option("--tag", reg.tags, "A tag (repeatable)")->allow_extra_args(false);
  app.add_option("--ttl", ttl, "The check's TTL; heartbeats go at a third of it")
      ->capture_default_str();
  app.add_option("--check-http", check_http,
                 "Local health URL, e.g. http://127.0.0.1:8080/health; 2xx is healthy");
  app.add_option("--check-interval", check_interval,
                 "How often to ask the health URL (and heartbeat); default: TTL/3");
  app.add_option("--deregister-critical-after", deregister_after,
                 "Deregister after the check has been critical this long, e.g. 1m");
  app.add_option("--http-addr", addresses,
                 "Registry address host:port; a comma-separated list for a cluster")
      ->envname("CONCIERGE_HTTP_ADDR")
      ->capture_default_str();
  ClientTlsFlags tls_flags;
  AddClientTlsFlags(&app, &tls_flags);
  std::string token;
  app.add_option("--token", token,
                 "ACL token (SecretID); also CONCIERGE_HTTP_TOKEN or CONSUL_HTTP_TOKEN")
      ->envname("CONCIERGE_HTTP_TOKEN");

  std::vector<const char*> argv;
  argv.push_back("concierge sidecar");
  for (std::size_t i = 2; i < args.size(); ++i) argv.push_back(args[i].c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : kExitUsage;
  }

  reg.port = port;
  if (reg.id.empty()) reg.id = reg.name + "-" + std::to_string(port);
  Result<Duration> ttl_value = ParseFlagDuration("-ttl", ttl);
  if (!ttl_value.ok()) return Usage(ttl_value.status().message());
  reg.ttl = *ttl_value;
  if (!deregister_after.empty()) {
    Result<Duration> d = ParseFlagDuration("-deregister-critical-after", deregister_after);
    if (!d.ok()) return Usage(d.status().message());
    reg.deregister_critical_after = *d;
  }
  HeartbeaterOptions options;
  if (!check_interval.empty()) {
    Result<Duration> d = ParseFlagDuration("-check-interval", check_interval);
    if (!d.ok()) return Usage(d.status().message());
    options.interval = *d;
  }
  Duration interval = options.interval > Duration::zero() ? options.interval : reg.ttl / 3;

  std::shared_ptr<HttpProbe> probe;
  if (!check_http.empty()) {
    Result<HttpUrl> url = ParseHttpUrl(check_http);
    if (!url.ok()) return Usage(url.status().message());
    client::HttpClientOptions http_options;
    http_options.connect_timeout = std::min<Duration>(interval, std::chrono::seconds(2));
    http_options.read_timeout = std::min<Duration>(interval, std::chrono::seconds(5));
    Result<client::HttpClient> http = client::HttpClient::Open(url->address, http_options);
    if (!http.ok()) return Usage(http.status().message());
    probe = std::make_shared<HttpProbe>(*url, std::move(http).value());
    options.probe = [probe] { return probe->Check(); };
  }
  options.log = [](const std::string& event) { Log(event); };

  TlsOptions tls = ResolveClientTls(tls_flags, &addresses);
  Result<std::unique_ptr<Client>> client = Client::Open(
      {.addresses = SplitAddresses(addresses), .tls = tls, .token = TokenFromEnv(token)});
  if (!client.ok()) return Usage("-http-addr: " + client.status().message());

  // Signals are taken by sigwait below; the heartbeating thread inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Heartbeater heartbeater(client->get(), reg, std::move(options));
  Status first = heartbeater.Start();
  if (first.ok()) {
    Log("registered " + reg.id + " (" + reg.name + ", port " + std::to_string(port) +
        "), heartbeating every " + std::to_string(interval.count()) + "ms");
  } else {
    Log("cannot register " + reg.id + " yet: " + first.message() + " (retrying)");
  }

  int signal = 0;
  sigwait(&signals, &signal);
  Log(std::string("stopping on ") + (signal == SIGINT ? "SIGINT" : "SIGTERM"));
  Status stopped = heartbeater.Stop();
  if (!stopped.ok()) {
    Log("cannot deregister " + reg.id + ": " + stopped.message());
    return kExitFailed;
  }
  return 0;
}

}  // namespace concierge::cli
