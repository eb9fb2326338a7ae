#include "gateway/http1.h"

#include <gtest/gtest.h>

namespace concierge::gateway::http1 {
namespace {

Head Request(std::string_view text) {
  Head head;
  std::string error;
  bool too_large = false;
  EXPECT_EQ(ParseRequest(text, 8192, head, &error, &too_large), Parse::kDone) << error;
  return head;
}

std::string RequestError(std::string_view text, std::size_t limit = 8192,
                         bool* too_large = nullptr) {
  Head head;
  std::string error;
  bool large = false;
  EXPECT_EQ(ParseRequest(text, limit, head, &error, &large), Parse::kError) << text;
  if (too_large != nullptr) *too_large = large;
  return error;
}

TEST(GatewayHttp1Request, HeadWithHeaders) {
  std::string text = "GET /api/x?y=1 HTTP/1.1\r\nHost: shop.example\r\nX-A:  b c \r\n\r\nBODY";
  Head head = Request(text);
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/api/x?y=1");
  EXPECT_EQ(head.minor, 1);
  EXPECT_EQ(head.size, text.size() - 4);
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.Get("HOST"), "shop.example");
  EXPECT_EQ(head.Get("x-a"), "b c");
  EXPECT_EQ(head.Get("absent"), "");
}

TEST(GatewayHttp1Request, IncompleteUntilTheBlankLine) {
  Head head;
  std::string error;
  bool too_large = false;
  for (std::string_view part : {"", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a\r\n"}) {
    EXPECT_EQ(ParseRequest(part, 8192, head, &error, &too_large), Parse::kIncomplete) << part;
  }
}

TEST(GatewayHttp1Request, LeadingBlankLinesAreSkipped) {
  Head head = Request("\r\nGET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.minor, 0);
  EXPECT_EQ(head.size, 20u);
}

TEST(GatewayHttp1Request, MalformedHeadsAreRefused) {
  EXPECT_NE(RequestError("GET /\r\n\r\n").find("request line"), std::string::npos);
  EXPECT_NE(RequestError("GET / HTTP/2.0\r\n\r\n").find("request line"), std::string::npos);
  EXPECT_NE(RequestError("G(T / HTTP/1.1\r\n\r\n").find("request line"), std::string::npos);
  EXPECT_NE(RequestError("GET / HTTP/1.1\r\nNo colon\r\n\r\n").find("NAME: VALUE"),
            std::string::npos);
  EXPECT_NE(RequestError("GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n").find("folding"),
            std::string::npos);
  EXPECT_NE(RequestError("GET / HTTP/1.1\r\nA: b\nc: d\r\n\r\n").find("control"),
            std::string::npos);
}

TEST(GatewayHttp1Request, HeadLargerThanTheLimit) {
  bool too_large = false;
  std::string big = "GET / HTTP/1.1\r\nX: " + std::string(200, 'a') + "\r\n\r\n";
  EXPECT_NE(RequestError(big, 100, &too_large).find("limit of 100 bytes"), std::string::npos);
  EXPECT_TRUE(too_large);
  // Before its end has arrived too.
  EXPECT_NE(RequestError(big.substr(0, 150), 100, &too_large).find("limit"), std::string::npos);
  EXPECT_TRUE(too_large);
}

TEST(GatewayHttp1Request, BodyFraming) {
  Body body;
  std::string error;
  ASSERT_TRUE(RequestBody(Request("GET / HTTP/1.1\r\n\r\n"), &body, &error));
  EXPECT_EQ(body.framing, Framing::kNone);
  ASSERT_TRUE(RequestBody(Request("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"), &body, &error));
  EXPECT_EQ(body.framing, Framing::kLength);
  EXPECT_EQ(body.length, 12u);
  ASSERT_TRUE(RequestBody(
      Request("POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n"), &body, &error));
  EXPECT_EQ(body.length, 3u);
  ASSERT_TRUE(RequestBody(Request("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"),
                          &body, &error));
  EXPECT_EQ(body.framing, Framing::kChunked);

  for (std::string_view bad : {"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
                               "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                               "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
                               "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                               "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                               "Content-Length: 3\r\n\r\n"}) {
    EXPECT_FALSE(RequestBody(Request(bad), &body, &error)) << bad;
    EXPECT_FALSE(error.empty());
  }
}

Head Response(std::string_view text) {
  Head head;
  std::string error;
  EXPECT_EQ(ParseResponse(text, 8192, head, &error), Parse::kDone) << error;
  return head;
}

TEST(GatewayHttp1Response, StatusLine) {
  Head head = Response("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(head.status, 404);
  EXPECT_EQ(head.reason, "Not Found");
  EXPECT_EQ(Response("HTTP/1.0 200\r\n\r\n").status, 200);
  Head h;
  std::string error;
  for (std::string_view bad : {"HTTP/1.1 20 OK\r\n\r\n", "HTTP/1.1 2000 OK\r\n\r\n",
                               "HTTP/1.1\r\n\r\n", "ICY 200 OK\r\n\r\n"}) {
    EXPECT_EQ(ParseResponse(bad, 8192, h, &error), Parse::kError) << bad;
  }
}

TEST(GatewayHttp1Response, BodyFraming) {
  Body body;
  std::string error;
  ASSERT_TRUE(
      ResponseBody(Response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), false, &body, &error));
  EXPECT_EQ(body.framing, Framing::kLength);
  ASSERT_TRUE(
      ResponseBody(Response("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), true, &body, &error));
  EXPECT_EQ(body.framing, Framing::kNone);  // the answer to HEAD
  ASSERT_TRUE(ResponseBody(Response("HTTP/1.1 304 Not Modified\r\n\r\n"), false, &body, &error));
  EXPECT_EQ(body.framing, Framing::kNone);
  ASSERT_TRUE(ResponseBody(Response("HTTP/1.1 200 OK\r\n\r\n"), false, &body, &error));
  EXPECT_EQ(body.framing, Framing::kUntilClose);
  ASSERT_TRUE(ResponseBody(Response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                    "Content-Length: 5\r\n\r\n"),
                           false, &body, &error));
  EXPECT_EQ(body.framing, Framing::kChunked);
}

TEST(GatewayHttp1Chunked, ScansAcrossPieces) {
  std::string body = "5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\n\r\nNEXT";
  ChunkedScanner scanner;
  std::string error;
  for (std::size_t n = 0; n < body.size() - 4; ++n) {
    ASSERT_EQ(scanner.Scan(std::string_view(body).substr(0, n), 1024, &error), Parse::kIncomplete)
        << n;
  }
  ASSERT_EQ(scanner.Scan(body, 1024, &error), Parse::kDone) << error;
  EXPECT_EQ(scanner.end(), body.size() - 4);
  EXPECT_EQ(Dechunk(std::string_view(body).substr(0, scanner.end())), "hello world!");
}

TEST(GatewayHttp1Chunked, Trailers) {
  std::string body = "3\r\nabc\r\n0\r\nX-Sum: 1\r\n\r\n";
  ChunkedScanner scanner;
  std::string error;
  ASSERT_EQ(scanner.Scan(body, 1024, &error), Parse::kDone) << error;
  EXPECT_EQ(scanner.end(), body.size());
}

TEST(GatewayHttp1Chunked, ErrorsAndTheLimit) {
  std::string error;
  ChunkedScanner a;
  EXPECT_EQ(a.Scan("zz\r\n", 1024, &error), Parse::kError);
  ChunkedScanner b;
  EXPECT_EQ(b.Scan("3\r\nabcd\r\n", 1024, &error), Parse::kError);
  ChunkedScanner c;
  EXPECT_EQ(c.Scan("400\r\n", 1000, &error), Parse::kError);
  EXPECT_NE(error.find("limit of 1000"), std::string::npos);
  ChunkedScanner d;
  EXPECT_EQ(d.Scan("ffffffffffffffffff\r\n", 1000, &error), Parse::kError);
}

TEST(GatewayHttp1Tokens, ConnectionList) {
  EXPECT_TRUE(HasToken("keep-alive, Close", "close"));
  EXPECT_TRUE(HasToken(" close ", "close"));
  EXPECT_FALSE(HasToken("closed", "close"));
  EXPECT_FALSE(HasToken("", "close"));
}

}  // namespace
}  // namespace concierge::gateway::http1
