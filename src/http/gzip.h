// gzip for answers: Consul's HTTP server gzips every answer a client takes gzip for (Go's
// net/http asks by default and inflates transparently), Eureka's clients ask for it too. A
// blocking query's answer about a service of 100 instances is ≈ 80 KB of JSON and ≈ 6 KB
// gzipped: what a change costs to write to 10,000 watchers is mostly its bytes.
#pragma once

#include <string>
#include <string_view>

#include "http/message.h"

namespace concierge::http {

// Bodies smaller than this are answered as they are (a gzip header and trailer are 18 bytes,
// and the answers that matter are kilobytes; gziphandler's default in Consul is 1,400).
inline constexpr std::size_t kGzipMinBytes = 1400;

// Whether the request's Accept-Encoding takes gzip (RFC 9110: "gzip" or "x-gzip", or "*",
// with a weight other than q=0).
bool TakesGzip(const Request& req);
// gzip (RFC 1952) of `data`, at zlib's fastest level.
std::string Gzip(std::string_view data);
// Says in `r`'s headers that its body is gzipped (and that the encoding depends on the
// request's Accept-Encoding).
void SayGzipped(Response& r);
// Gzips `r`'s body in place and says so in its headers if the client takes gzip, the answer
// is a 200 or 201 of JSON of at least kGzipMinBytes, not yet encoded and not a stream. A
// shared body is left alone (its owner caches the gzipped bytes: ConsulApi's AnswerCache).
void MaybeGzip(const Request& req, Response& r);

}  // namespace concierge::http
