// Copyright: the Concierge authors.
//
// How a client reaches a registry over HTTPS (an agent run with -tls-cert-file).
//
//   concierge::ClientOptions options;
//   options.tls = {.enabled = true, .ca_file = "ca.pem",
//                  .cert_file = "client.pem", .key_file = "client-key.pem"};
//
// The command line fills this from -ca-file, -client-cert, -client-key and -tls-server-name
// or from CONCIERGE_CACERT, CONCIERGE_CLIENT_CERT, CONCIERGE_CLIENT_KEY,
// CONCIERGE_TLS_SERVER_NAME and CONCIERGE_HTTP_SSL (the same names as Consul's, with CONSUL_
// replaced).
#pragma once

#include <string>

namespace concierge {

struct TlsOptions {
  // Speak HTTPS. Without it every other field is ignored.
  bool enabled = false;
  // PEM file of the CA(s) that signed the registry's certificate. Empty: the system's CAs.
  std::string ca_file{};
  // The client certificate and its key (PEM), for an agent run with -tls-verify-incoming.
  // Both or neither.
  std::string cert_file{};
  std::string key_file{};
  // The name the registry's certificate must carry (and the SNI sent). Empty: the host of
  // the address connected to (a DNS name or an IP address).
  std::string server_name{};
  // Check the registry's certificate. Turn off only to debug a setup: anybody on the path
  // can then read and change the traffic.
  bool verify = true;
};

}  // namespace concierge
