// The wire form of answers: the head the server writes by hand (http/message.h ResponseHead)
// and gzip for clients that take it (http/gzip.h).
#include <gtest/gtest.h>
#include <zlib.h>

#include <string>

#include "http/gzip.h"
#include "http/message.h"

namespace concierge::http {
namespace {

Request WithAcceptEncoding(std::string value) {
  Request req;
  req.headers.emplace_back("accept-encoding", std::move(value));
  return req;
}

std::string Gunzip(const std::string& in) {
  z_stream z{};
  inflateInit2(&z, 15 + 16);
  std::string out(in.size() * 64 + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(inflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  inflateEnd(&z);
  return out;
}

TEST(ResponseHead, StatusLineHeadersLengthAndConnection) {
  Response r = Response::Json("{}");
  r.headers.emplace_back("X-Consul-Index", "7");
  EXPECT_EQ(ResponseHead(r, 2, 11, true),
            "HTTP/1.1 200 OK\r\nServer: concierge\r\nX-Consul-Index: 7\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n");
  EXPECT_EQ(ResponseHead(r, 2, 11, false),
            "HTTP/1.1 200 OK\r\nServer: concierge\r\nX-Consul-Index: 7\r\n"
            "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(
      ResponseHead(r, 2, 10, true),
      "HTTP/1.0 200 OK\r\nServer: concierge\r\nX-Consul-Index: 7\r\n"
      "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n");
}

TEST(ResponseHead, LastValueWinsAndNoHandlerWritesFramingOrLines) {
  Response r = Response::Error(429, "slow down");
  r.headers.emplace_back("Retry-After", "1");
  r.headers.emplace_back("retry-after", "2");
  r.headers.emplace_back("Content-Length", "999");
  r.headers.emplace_back("Connection", "upgrade");
  r.headers.emplace_back("Content-Type", "text/xml");
  r.headers.emplace_back("X-Evil", "1\r\nSet-Cookie: a=b");  // never a line of its own
  r.headers.emplace_back("X-Bad\r\nName", "1");
  r.headers.emplace_back("X-Once", "kept");
  r.headers.emplace_back("X-Once", "dropped\n");  // a dropped later value hides no earlier one
  EXPECT_EQ(ResponseHead(r, 10, 11, true),
            "HTTP/1.1 429 Too Many Requests\r\nServer: concierge\r\nretry-after: 2\r\n"
            "Content-Type: text/xml\r\nX-Once: kept\r\nContent-Length: 10\r\n\r\n");
}

TEST(ResponseHead, NoLengthWhereThereIsNoBody) {
  Response r;
  r.status = 304;
  EXPECT_EQ(ResponseHead(r, 0, 11, true).find("Content-Length"), std::string::npos);
  r.status = 204;
  EXPECT_EQ(ResponseHead(r, 0, 11, true).find("Content-Length"), std::string::npos);
  r.status = 200;
  EXPECT_NE(ResponseHead(r, 0, 11, true).find("Content-Length: 0\r\n"), std::string::npos);
}

TEST(Gzip, AcceptEncodingWithWeights) {
  EXPECT_FALSE(TakesGzip(Request{}));
  EXPECT_TRUE(TakesGzip(WithAcceptEncoding("gzip")));
  EXPECT_TRUE(TakesGzip(WithAcceptEncoding("deflate, GZIP;q=0.5")));
  EXPECT_TRUE(TakesGzip(WithAcceptEncoding("br, x-gzip")));
  EXPECT_TRUE(TakesGzip(WithAcceptEncoding("*")));
  EXPECT_FALSE(TakesGzip(WithAcceptEncoding("gzip;q=0")));
  EXPECT_FALSE(TakesGzip(WithAcceptEncoding("gzip; q=0.000, deflate")));
  EXPECT_FALSE(TakesGzip(WithAcceptEncoding("identity, deflate")));
  EXPECT_FALSE(TakesGzip(WithAcceptEncoding("gzipped")));
}

TEST(Gzip, RoundTrips) {
  std::string json;
  for (int i = 0; i < 1000; ++i) json += R"({"Service":"web","Port":)" + std::to_string(i) + "},";
  std::string gz = Gzip(json);
  EXPECT_LT(gz.size(), json.size() / 4);
  EXPECT_EQ(Gunzip(gz), json);
}

TEST(Gzip, OnlyLargeJsonAnswersToClientsThatTakeIt) {
  const std::string big(kGzipMinBytes, 'x');
  Response r = Response::Json(big);
  MaybeGzip(Request{}, r);  // no Accept-Encoding
  EXPECT_EQ(r.body, big);

  Request takes = WithAcceptEncoding("gzip");
  Response small = Response::Json(std::string(kGzipMinBytes - 1, 'x'));
  MaybeGzip(takes, small);
  EXPECT_TRUE(small.headers.empty());

  Response error = Response::Error(500, big);
  MaybeGzip(takes, error);
  EXPECT_TRUE(error.headers.empty());

  Response already = Response::Json(big);
  already.headers.emplace_back("Content-Encoding", "gzip");
  MaybeGzip(takes, already);
  EXPECT_EQ(already.body, big);

  MaybeGzip(takes, r);
  EXPECT_EQ(Gunzip(r.body), big);
  ASSERT_EQ(r.headers.size(), 2u);
  EXPECT_EQ(r.headers[0], (std::pair<std::string, std::string>{"Content-Encoding", "gzip"}));
}

}  // namespace
}  // namespace concierge::http
