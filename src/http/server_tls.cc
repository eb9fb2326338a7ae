// The HTTPS side of the server (ServerOptions::tls): its own translation unit so that the
// request loop's instantiation over a TLS stream compiles in parallel with the plain one.
#include <openssl/x509v3.h>

#include <boost/asio/ssl.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/ssl.hpp>

#include "http/serve.h"
#include "http/server.h"

namespace concierge::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using namespace serve_detail;

// `tls` is the context when the connection was accepted (SetTls may replace the server's).
asio::awaitable<void> Server::SessionTls(tcp::socket socket, std::string remote,
                                         std::shared_ptr<ssl::context> tls) {
  ConnectionGuard counted(connections_);
  boost::system::error_code ec;
  socket.set_option(tcp::no_delay(true), ec);
  ssl::stream<beast::tcp_stream> stream(beast::tcp_stream(std::move(socket)), *tls);
  auto& lowest = beast::get_lowest_layer(stream);
  if (!EnterIp(remote)) co_return;  // a plain-text answer would not be understood
  IpSlot slot(*this, remote);
  // The first bytes tell a TLS client from a plain HTTP one, which gets an answer it can read.
  beast::flat_buffer buffer;
  lowest.expires_after(options_.read_timeout);
  bool is_tls = co_await beast::async_detect_ssl(lowest, buffer,
                                                 asio::redirect_error(asio::use_awaitable, ec));
  if (ec) co_return;
  if (!is_tls) {
    co_await AnswerAndClose(lowest, 400, "Bad Request",
                            "this port speaks HTTPS only (the agent runs with TLS): use "
                            "https:// and the CA that signed its certificate",
                            options_.write_timeout);
    co_return;
  }
  std::size_t used = co_await stream.async_handshake(ssl::stream_base::server, buffer.data(),
                                                     asio::redirect_error(asio::use_awaitable, ec));
  if (ec) {
    spdlog::debug("http: TLS handshake with {} failed: {}", remote, ec.message());
    co_return;
  }
  buffer.consume(used);
  // A verified client certificate that names the client's own address is a server's (a
  // server's certificate names the host of its -http-addr): the cluster's endpoints take it
  // as they take the cluster key's proof.
  SSL* ssl = stream.native_handle();
  X509* peer = SSL_get0_peer_certificate(ssl);
  bool server_certificate = peer != nullptr && SSL_get_verify_result(ssl) == X509_V_OK &&
                            X509_check_ip_asc(peer, remote.c_str(), 0) == 1;
  co_await Serve(stream, buffer, remote, server_certificate);
  // close_notify, bounded: a client that has gone does not answer it.
  lowest.expires_after(std::chrono::seconds(1));
  co_await stream.async_shutdown(asio::redirect_error(asio::use_awaitable, ec));
}

}  // namespace concierge::http
