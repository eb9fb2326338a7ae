// OpenSSL contexts for HTTPS (the agent's HTTP API, the gateway's listener, the client
// library, and servers talking to each other). TLS 1.2 or later only.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <memory>
#include <string>

#include "concierge/tls.h"
#include "core/status.h"

namespace concierge::tls {

// What a listener is given: -tls-cert-file, -tls-key-file, -tls-ca-file, -tls-verify-incoming.
struct ServerFiles {
  std::string cert_file;         // PEM certificate chain, leaf first
  std::string key_file;          // PEM private key of the leaf
  std::string ca_file;           // PEM CA(s) that sign client certificates
  bool verify_incoming = false;  // a client must show a certificate signed by ca_file

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
  // Both files given, and a CA when clients are verified; the error names the flag missing.
  Status Check(std::string_view flag_prefix) const;
};

using Context = boost::asio::ssl::context;

// Loads the files; the error names the file and what is wrong with it (unreadable, not PEM,
// key not matching the certificate).
Result<std::shared_ptr<Context>> ServerContext(const ServerFiles& files);

// A context that verifies servers against options.ca_file (or the system's CAs) and shows
// options.cert_file when given.
Result<std::shared_ptr<Context>> ClientContext(const TlsOptions& options);

// Before a client handshake: sends SNI for a DNS name, and makes the handshake check that
// the certificate names `host` (options.server_name when set). Returns false if OpenSSL
// refused (out of memory).
template <class Stream>
bool PrepareClient(boost::asio::ssl::stream<Stream>& stream, const TlsOptions& options,
                   const std::string& host);
bool PrepareClientHandle(SSL* ssl, const TlsOptions& options, const std::string& host);

template <class Stream>
bool PrepareClient(boost::asio::ssl::stream<Stream>& stream, const TlsOptions& options,
                   const std::string& host) {
  return PrepareClientHandle(stream.native_handle(), options, host);
}

// A client-side TLS failure, readable: "certificate verify failed" gets what failed.
std::string DescribeError(const boost::system::error_code& ec, SSL* ssl);

}  // namespace concierge::tls
