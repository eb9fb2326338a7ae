// One HTTP/2 client session for a check, over nghttp2 with no I/O of its own: the caller's
// event loop writes what Pending() returns, feeds what it reads to Feed(), and stops when
// done() (docs/health.md "GRPC and H2PING checks" says why nghttp2 and not libgrpc++). It
// either sends one request (a gRPC unary call) and reads its response and trailers, or one
// PING and waits for its acknowledgement.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct nghttp2_session;

namespace concierge::server {

class H2Session {
 public:
  // A POST of `body` to `path` with gRPC's headers (content-type application/grpc, te
  // trailers). `scheme` is "http" or "https".
  struct Request {
    std::string scheme;
    std::string authority;
    std::string path;
    std::string body;
  };
  explicit H2Session(Request request);
  // A PING.
  H2Session();
  ~H2Session();
  H2Session(const H2Session&) = delete;
  H2Session& operator=(const H2Session&) = delete;

  // The bytes to send now (the connection preface and SETTINGS first); empty when nothing is.
  std::string Pending();
  // Bytes read from the server; false on a protocol error (error() says what).
  bool Feed(const char* data, std::size_t size);
  // The request's stream closed (or the PING was acknowledged).
  bool done() const;
  // nghttp2 still expects to read (false once the server has gone away).
  bool want_read() const;
  const std::string& error() const { return error_; }

  // The response, for a request.
  int http_status() const { return http_status_; }
  std::optional<int> grpc_status() const { return grpc_status_; }
  const std::string& grpc_message() const { return grpc_message_; }
  const std::string& data() const { return data_; }
  // The server reset the stream: its HTTP/2 error code's name ("" if it did not).
  const std::string& stream_error() const { return stream_error_; }

  // Response bodies beyond this are an error (a health response is a few bytes).
  static constexpr std::size_t kMaxData = 64 * 1024;

 private:
  void Open();

  nghttp2_session* session_ = nullptr;
  bool ping_ = false;
  std::int32_t stream_id_ = -1;
  Request request_;
  std::size_t body_sent_ = 0;
  bool closed_ = false;
  bool ping_acked_ = false;
  int http_status_ = 0;
  std::optional<int> grpc_status_;
  std::string grpc_message_;
  std::string data_;
  std::string stream_error_;
  std::string error_;

  friend struct H2Callbacks;
};

}  // namespace concierge::server
