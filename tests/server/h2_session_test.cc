// H2Session against an nghttp2 server session in the same process: the bytes each writes are
// fed to the other, no socket and no clock.
#include "server/h2_session.h"

#include <gtest/gtest.h>
#include <nghttp2/nghttp2.h>

#include <cstring>
#include <string>

#include "server/grpc_health.h"

namespace concierge::server {
namespace {

using namespace std::string_literals;

// A gRPC server for one call: answers `body` and the trailers `grpc-status: <status>`.
class FakeGrpcServer {
 public:
  FakeGrpcServer(std::string body, std::string status) : body_(body), status_(status) {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnData);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrame);
    nghttp2_session_server_new(&session_, cb, this);
    nghttp2_session_callbacks_del(cb);
    nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, nullptr, 0);
  }
  ~FakeGrpcServer() { nghttp2_session_del(session_); }

  void Feed(const std::string& bytes) {
    ASSERT_GE(nghttp2_session_mem_recv(session_, reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size()),
              0);
  }
  std::string Pending() {
    std::string out;
    const uint8_t* data = nullptr;
    for (ssize_t n; (n = nghttp2_session_mem_send(session_, &data)) > 0;) {
      out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
    }
    return out;
  }

  std::string path, content_type, request;

 private:
  static FakeGrpcServer& Of(void* user) { return *static_cast<FakeGrpcServer*>(user); }
  static int OnHeader(nghttp2_session*, const nghttp2_frame*, const uint8_t* name, size_t nlen,
                      const uint8_t* value, size_t vlen, uint8_t, void* user) {
    std::string n(reinterpret_cast<const char*>(name), nlen);
    std::string v(reinterpret_cast<const char*>(value), vlen);
    if (n == ":path") Of(user).path = v;
    if (n == "content-type") Of(user).content_type = v;
    return 0;
  }
  static int OnData(nghttp2_session*, uint8_t, int32_t, const uint8_t* data, size_t len,
                    void* user) {
    Of(user).request.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }
  static int OnFrame(nghttp2_session* session, const nghttp2_frame* frame, void*) {
    if ((frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) &&
        (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
      const nghttp2_nv headers[] = {
          {(uint8_t*)":status", (uint8_t*)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
          {(uint8_t*)"content-type", (uint8_t*)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE}};
      nghttp2_data_provider provider{};
      provider.read_callback = [](nghttp2_session* session, int32_t stream_id, uint8_t* buf,
                                  size_t length, uint32_t* flags, nghttp2_data_source*,
                                  void* user) -> ssize_t {
        FakeGrpcServer& s = Of(user);
        size_t n = std::min(length, s.body_.size());
        std::memcpy(buf, s.body_.data(), n);
        s.body_.erase(0, n);
        if (s.body_.empty()) {
          *flags |= NGHTTP2_DATA_FLAG_EOF | NGHTTP2_DATA_FLAG_NO_END_STREAM;
          const nghttp2_nv trailers[] = {{(uint8_t*)"grpc-status", (uint8_t*)s.status_.data(), 11,
                                          s.status_.size(), NGHTTP2_NV_FLAG_NONE}};
          nghttp2_submit_trailer(session, stream_id, trailers, 1);
        }
        return static_cast<ssize_t>(n);
      };
      nghttp2_submit_response(session, frame->hd.stream_id, headers, 2, &provider);
    }
    return 0;
  }

  nghttp2_session* session_ = nullptr;
  std::string body_;
  std::string status_;
};

// Passes bytes both ways until the client is done (or nothing moves).
void Exchange(H2Session& client, FakeGrpcServer& server) {
  for (int round = 0; round < 20 && !client.done(); ++round) {
    std::string to_server = client.Pending();
    ASSERT_TRUE(client.error().empty()) << client.error();
    server.Feed(to_server);
    std::string to_client = server.Pending();
    if (to_server.empty() && to_client.empty()) break;
    ASSERT_TRUE(client.Feed(to_client.data(), to_client.size())) << client.error();
  }
}

TEST(H2SessionTest, AGrpcCallSendsTheRequestAndReadsTheResponseAndTrailers) {
  FakeGrpcServer server("\0\0\0\0\x02\x08\x01"s, "0");
  H2Session client(H2Session::Request{"http", "127.0.0.1:50051", std::string(kGrpcHealthCheckPath),
                                      EncodeHealthCheckRequest("my.Svc")});
  Exchange(client, server);
  ASSERT_TRUE(client.done());
  EXPECT_EQ(server.path, "/grpc.health.v1.Health/Check");
  EXPECT_EQ(server.content_type, "application/grpc");
  EXPECT_EQ(server.request, EncodeHealthCheckRequest("my.Svc"));
  EXPECT_EQ(client.http_status(), 200);
  EXPECT_EQ(client.grpc_status(), 0);
  EXPECT_EQ(DecodeHealthCheckResponse(client.data()), kServing);
  EXPECT_TRUE(client.stream_error().empty());
}

TEST(H2SessionTest, AGrpcErrorStatusIsReported) {
  FakeGrpcServer server("", "12");
  H2Session client(H2Session::Request{"http", "x:1", "/grpc.health.v1.Health/Check", ""});
  Exchange(client, server);
  ASSERT_TRUE(client.done());
  EXPECT_EQ(client.grpc_status(), 12);
}

TEST(H2SessionTest, APingIsDoneWhenTheServerAcknowledgesIt) {
  FakeGrpcServer server("", "0");
  H2Session client;
  EXPECT_FALSE(client.done());
  Exchange(client, server);
  EXPECT_TRUE(client.done());
}

TEST(H2SessionTest, BytesThatAreNotHttp2EndTheSession) {
  H2Session client;
  client.Pending();
  EXPECT_TRUE(client.want_read());
  std::string http1 = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  client.Feed(http1.data(), http1.size());
  // nghttp2 answers a GOAWAY and reads no more: the runner reports the session ended.
  EXPECT_FALSE(client.Pending().empty());
  EXPECT_FALSE(client.want_read());
  EXPECT_FALSE(client.done());
}

}  // namespace
}  // namespace concierge::server
