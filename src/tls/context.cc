#include "tls/context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <fstream>

namespace concierge::tls {

namespace ssl = boost::asio::ssl;

namespace {

Status Readable(const std::string& flag, const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::InvalidArgument(flag + ": cannot read " + path);
  return Status::Ok();
}

std::string OpenSslError(const boost::system::error_code& ec) {
  unsigned long err = ERR_peek_last_error();
  ERR_clear_error();
  if (err != 0) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof buf);
    return buf;
  }
  return ec.message();
}

std::shared_ptr<Context> NewContext(Context::method method) {
  auto ctx = std::make_shared<Context>(method);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(Context::default_workarounds | Context::no_compression | Context::single_dh_use);
  return ctx;
}

Status LoadPair(Context& ctx, const std::string& cert_flag, const std::string& cert,
                const std::string& key_flag, const std::string& key) {
  if (auto st = Readable(cert_flag, cert); !st.ok()) return st;
  if (auto st = Readable(key_flag, key); !st.ok()) return st;
  boost::system::error_code ec;
  ctx.use_certificate_chain_file(cert, ec);
  if (ec) {
    return Status::InvalidArgument(cert_flag + ": " + cert + " is not a PEM certificate (" +
                                   OpenSslError(ec) + ")");
  }
  ctx.use_private_key_file(key, Context::pem, ec);
  if (ec) {
    std::string why = OpenSslError(ec);
    if (why.find("values mismatch") != std::string::npos) {
      return Status::InvalidArgument(key_flag + ": " + key + " is not the key of the certificate " +
                                     cert);
    }
    return Status::InvalidArgument(key_flag + ": " + key + " is not a PEM private key (" + why +
                                   ")");
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    ERR_clear_error();
    return Status::InvalidArgument(key_flag + ": " + key + " is not the key of the certificate " +
                                   cert);
  }
  return Status::Ok();
}

Status LoadCa(Context& ctx, const std::string& flag, const std::string& ca) {
  if (auto st = Readable(flag, ca); !st.ok()) return st;
  boost::system::error_code ec;
  ctx.load_verify_file(ca, ec);
  if (ec) {
    return Status::InvalidArgument(flag + ": " + ca + " holds no PEM CA certificate (" +
                                   OpenSslError(ec) + ")");
  }
  return Status::Ok();
}

}  // namespace

Status ServerFiles::Check(std::string_view prefix) const {
  std::string p(prefix);
  if (cert_file.empty() != key_file.empty()) {
    return Status::InvalidArgument(p + "cert-file and " + p +
                                   "key-file go together: give both, or neither");
  }
  if (!ca_file.empty() && cert_file.empty()) {
    return Status::InvalidArgument(p + "ca-file needs " + p + "cert-file and " + p +
                                   "key-file (TLS is off without them)");
  }
  if (verify_incoming && ca_file.empty()) {
    return Status::InvalidArgument(p + "verify-incoming needs " + p +
                                   "ca-file (the CA that signs client certificates)");
  }
  if (verify_incoming && cert_file.empty()) {
    return Status::InvalidArgument(p + "verify-incoming needs " + p + "cert-file and " + p +
                                   "key-file (TLS is off without them)");
  }
  return Status::Ok();
}

Result<std::shared_ptr<Context>> ServerContext(const ServerFiles& files) {
  try {
    auto ctx = NewContext(Context::tls_server);
    if (auto st =
            LoadPair(*ctx, "-tls-cert-file", files.cert_file, "-tls-key-file", files.key_file);
        !st.ok()) {
      return st;
    }
    if (!files.ca_file.empty()) {
      if (auto st = LoadCa(*ctx, "-tls-ca-file", files.ca_file); !st.ok()) return st;
    }
    if (files.verify_incoming) {
      ctx->set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    } else {
      ctx->set_verify_mode(ssl::verify_none);
    }
    return ctx;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("TLS: ") + e.what());
  }
}

Result<std::shared_ptr<Context>> ClientContext(const TlsOptions& options) {
  try {
    auto ctx = NewContext(Context::tls_client);
    if (!options.ca_file.empty()) {
      if (auto st = LoadCa(*ctx, "-ca-file", options.ca_file); !st.ok()) return st;
    } else {
      ctx->set_default_verify_paths();
    }
    if (options.cert_file.empty() != options.key_file.empty()) {
      return Status::InvalidArgument(
          "-client-cert and -client-key go together: give both, or neither");
    }
    if (!options.cert_file.empty()) {
      if (auto st =
              LoadPair(*ctx, "-client-cert", options.cert_file, "-client-key", options.key_file);
          !st.ok()) {
        return st;
      }
    }
    ctx->set_verify_mode(options.verify ? ssl::verify_peer : ssl::verify_none);
    return ctx;
  } catch (const std::exception& e) {
    return Status::Internal(std::string("TLS: ") + e.what());
  }
}

bool PrepareClientHandle(SSL* ssl, const TlsOptions& options, const std::string& host) {
  std::string name = options.server_name.empty() ? host : options.server_name;
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') {
    name = name.substr(1, name.size() - 2);
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address(name, ec);
  const bool is_ip = !ec;
  // SNI carries names only (RFC 6066).
  if (!is_ip && SSL_set_tlsext_host_name(ssl, name.c_str()) != 1) return false;
  if (!options.verify) return true;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  if (is_ip) return X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1;
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return X509_VERIFY_PARAM_set1_host(param, name.c_str(), name.size()) == 1;
}

std::string DescribeError(const boost::system::error_code& ec, SSL* ssl) {
  if (ssl != nullptr) {
    long verify = SSL_get_verify_result(ssl);
    if (verify != X509_V_OK) {
      return std::string("TLS: the server's certificate is not trusted: ") +
             X509_verify_cert_error_string(verify);
    }
  }
  if (ec.category() != boost::asio::error::get_ssl_category()) return ec.message();
  std::string what = ec.message();
  if (what.find("certificate required") != std::string::npos ||
      what.find("handshake failure") != std::string::npos) {
    return "TLS: the server requires a client certificate (give -client-cert and -client-key): " +
           what;
  }
  if (what.find("unknown ca") != std::string::npos ||
      what.find("bad certificate") != std::string::npos) {
    return "TLS: the server does not accept this client certificate (signed by a CA it does "
           "not trust?): " +
           what;
  }
  return "TLS: " + what;
}

}  // namespace concierge::tls
