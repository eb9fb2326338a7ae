// TLS, cluster-key and limit flags, kept out of the commands that use them (agent, gateway,
// sidecar, and every command that talks to an agent). docs/configuration.md lists them,
// docs/limits.md the limits.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "concierge/tls.h"
#include "core/status.h"
#include "http/consul_api.h"
#include "http/server.h"
#include "tls/cluster_key.h"
#include "tls/context.h"

namespace concierge::cli {

// How a command reaches an agent over HTTPS: -ca-file, -client-cert, -client-key,
// -tls-server-name, -http-ssl, -http-ssl-verify, and Consul's environment variables with
// CONCIERGE_ for CONSUL_ (CONCIERGE_CACERT, CONCIERGE_CLIENT_CERT, CONCIERGE_CLIENT_KEY,
// CONCIERGE_TLS_SERVER_NAME, CONCIERGE_HTTP_SSL, CONCIERGE_HTTP_SSL_VERIFY).
struct ClientTlsFlags {
  TlsOptions tls;
  bool ssl = false;
};
void AddClientTlsFlags(CLI::App* command, ClientTlsFlags* flags);

// HTTPS is on if -http-ssl, any of the files, or an "https://" address says so. Strips an
// "http://" or "https://" from each address (comma-separated lists too).
TlsOptions ResolveClientTls(const ClientTlsFlags& flags, std::string* addresses);

// A listener's certificate: -tls-cert-file, -tls-key-file, -tls-ca-file, -tls-verify-incoming.
void AddServerTlsFlags(CLI::App& app, tls::ServerFiles* files);

// The cluster key: -cluster-key (base64) or -cluster-key-file.
struct ClusterKeyFlags {
  std::string key;
  std::string file;
};
void AddClusterKeyFlags(CLI::App& app, ClusterKeyFlags* flags);
// nullopt when neither flag is given.
Result<std::optional<tls::ClusterKey>> LoadClusterKey(const ClusterKeyFlags& flags);

// The agent's limits: -http-max-connections, -http-max-conns-per-client, -http-request-rate,
// -http-request-burst, -http-read-timeout, -max-blocking-queries, -max-instances. They write into
// the options.
void AddLimitFlags(CLI::App& app, http::ServerOptions* server, http::ApiOptions* api);

// `concierge keygen`: prints a new cluster key.
int RunKeygen();

}  // namespace concierge::cli
