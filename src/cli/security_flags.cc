#include "cli/security_flags.h"

#include <iostream>

#include "cli/args.h"
#include "core/time.h"

namespace concierge::cli {

void AddClientTlsFlags(CLI::App* command, ClientTlsFlags* flags) {
  command
      ->add_option("--ca-file", flags->tls.ca_file,
                   "CA certificate (PEM) that signed the agent's; turns HTTPS on")
      ->envname("CONCIERGE_CACERT");
  command
      ->add_option("--client-cert", flags->tls.cert_file,
                   "Client certificate (PEM), for agents that verify clients")
      ->envname("CONCIERGE_CLIENT_CERT");
  command->add_option("--client-key", flags->tls.key_file, "Key of -client-cert (PEM)")
      ->envname("CONCIERGE_CLIENT_KEY");
  command
      ->add_option("--tls-server-name", flags->tls.server_name,
                   "Name the agent's certificate must carry (default: the -http-addr host)")
      ->envname("CONCIERGE_TLS_SERVER_NAME");
  command->add_flag("--http-ssl", flags->ssl, "Talk HTTPS (with the system's CAs)")
      ->envname("CONCIERGE_HTTP_SSL");
  command
      ->add_option("--http-ssl-verify", flags->tls.verify,
                   "Check the agent's certificate (true or false; default true)")
      ->envname("CONCIERGE_HTTP_SSL_VERIFY");
}

TlsOptions ResolveClientTls(const ClientTlsFlags& flags, std::string* addresses) {
  TlsOptions tls = flags.tls;
  tls.enabled = flags.ssl || !tls.ca_file.empty() || !tls.cert_file.empty();
  std::string out;
  for (std::string address : SplitAddresses(*addresses)) {
    if (address.starts_with("https://")) {
      tls.enabled = true;
      address = address.substr(8);
    } else if (address.starts_with("http://")) {
      address = address.substr(7);
    }
    while (!address.empty() && address.back() == '/') address.pop_back();
    if (!out.empty()) out += ',';
    out += address;
  }
  if (!out.empty()) *addresses = out;
  return tls;
}

void AddServerTlsFlags(CLI::App& app, tls::ServerFiles* files) {
  app.add_option("--tls-cert-file", files->cert_file,
                 "Certificate chain (PEM) of the HTTP API; turns HTTPS on (HTTPS only)");
  app.add_option("--tls-key-file", files->key_file, "Private key (PEM) of -tls-cert-file");
  app.add_option("--tls-ca-file", files->ca_file,
                 "CA (PEM) that signs client certificates and the other servers'");
  app.add_flag("--tls-verify-incoming", files->verify_incoming,
               "Require a client certificate signed by -tls-ca-file");
}

void AddClusterKeyFlags(CLI::App& app, ClusterKeyFlags* flags) {
  auto* key = app.add_option("--cluster-key", flags->key,
                             "Shared key of the cluster's servers, base64 (concierge keygen); "
                             "peers without it cannot join or replicate");
  auto* file = app.add_option("--cluster-key-file", flags->file,
                              "File holding the cluster key (keeps it out of `ps`)");
  key->excludes(file);
}

Result<std::optional<tls::ClusterKey>> LoadClusterKey(const ClusterKeyFlags& flags) {
  if (!flags.file.empty()) {
    auto key = tls::ClusterKey::FromFile(flags.file);
    if (!key.ok()) return key.status();
    return std::optional<tls::ClusterKey>(std::move(key).value());
  }
  if (!flags.key.empty()) {
    auto key = tls::ClusterKey::Parse(flags.key);
    if (!key.ok()) return Status::InvalidArgument("-cluster-key: " + key.status().message());
    return std::optional<tls::ClusterKey>(std::move(key).value());
  }
  return std::optional<tls::ClusterKey>();
}

void AddLimitFlags(CLI::App& app, http::ServerOptions* server, http::ApiOptions* api) {
  app.add_option("--http-max-connections", server->max_connections,
                 "Open HTTP connections; more are closed at once")
      ->capture_default_str();
  app.add_option("--http-max-conns-per-client", server->max_connections_per_ip,
                 "Open HTTP connections from one client IP address (0 = no limit)")
      ->capture_default_str();
  app.add_option("--http-request-rate", server->request_rate,
                 "Requests per second on one connection; more get 429 (0 = no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--http-request-burst", server->request_burst,
                 "Requests one connection may send at once above the rate (0 = a second's worth)")
      ->check(CLI::NonNegativeNumber);
  app.add_option_function<std::string>(
      "--http-read-timeout",
      [server](const std::string& text) {
        auto d = core::ParseDuration(text);
        if (!d.ok() || *d < std::chrono::seconds(1)) {
          throw CLI::ValidationError("--http-read-timeout",
                                     "expected a duration of at least 1s, like \"60s\"");
        }
        server->read_timeout = std::chrono::ceil<std::chrono::seconds>(*d);
      },
      "Time to receive one request, idle keep-alive time included (default 60s)");
  app.add_option("--max-blocking-queries", api->max_blocking_queries,
                 "Blocking queries parked at once; more get 429 (0 = no limit)")
      ->capture_default_str();
  app.add_option("--max-instances", api->max_instances,
                 "Registered service instances; registering more gets 429 (0 = no limit)")
      ->capture_default_str();
  app.add_option("--max-kv-bytes", api->max_kv_bytes,
                 "Size of the KV store (keys, values and 128 bytes per entry); writes that would "
                 "grow it past this get 429 (0 = no limit)")
      ->capture_default_str();
  app.add_option("--max-sessions", api->max_sessions,
                 "Open sessions; creating more gets 429 (0 = no limit)")
      ->capture_default_str();
  app.add_option("--http-legacy-methods", api->legacy_methods,
                 "Accept the GETs Consul 0.x clients send on deregister and check pass/warn/fail "
                 "(never from browsers)")
      ->capture_default_str();
  app.add_option("--http-allowed-origins", api->allowed_origins,
                 "Origins (scheme://host:port, comma-separated) besides the agent's own whose "
                 "web pages may send writes")
      ->delimiter(',');
}

int RunKeygen() {
  auto key = tls::ClusterKey::Generate();
  if (!key.ok()) {
    std::cerr << "keygen: " << key.status().message() << "\n";
    return 1;
  }
  std::cout << *key << "\n";
  return 0;
}

}  // namespace concierge::cli
