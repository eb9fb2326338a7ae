#include "http/gzip.h"

#include <zlib.h>

namespace concierge::http {

namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// q=0, q=0.0, q=0.000: "not acceptable" (RFC 9110 12.4.2).
bool RefusedByWeight(std::string_view params) {
  while (!params.empty()) {
    std::size_t semi = params.find(';');
    std::string_view param = Trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (param.size() < 2 || (param[0] != 'q' && param[0] != 'Q') || param[1] != '=') continue;
    std::string_view q = Trim(param.substr(2));
    return !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
  }
  return false;
}

}  // namespace

bool TakesGzip(const Request& req) {
  std::optional<std::string_view> accept = req.Header("Accept-Encoding");
  if (!accept) return false;
  std::string_view list = *accept;
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    std::size_t semi = item.find(';');
    std::string_view coding = Trim(item.substr(0, semi));
    if (SameHeaderName(coding, "gzip") || SameHeaderName(coding, "x-gzip") || coding == "*") {
      return semi == std::string_view::npos || !RefusedByWeight(item.substr(semi + 1));
    }
  }
  return false;
}

std::string Gzip(std::string_view data) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer rather than zlib's.
  deflateInit2(&z, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, static_cast<uLong>(data.size())) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void SayGzipped(Response& r) {
  r.headers.emplace_back("Content-Encoding", "gzip");
  r.headers.emplace_back("Vary", "Accept-Encoding");
}

void MaybeGzip(const Request& req, Response& r) {
  if ((r.status != 200 && r.status != 201) || r.stream || r.shared_body ||
      r.body.size() < kGzipMinBytes || !r.content_type.starts_with("application/json")) {
    return;
  }
  for (const auto& [name, value] : r.headers) {
    if (SameHeaderName(name, "Content-Encoding")) return;
  }
  if (!TakesGzip(req)) return;
  r.body = Gzip(r.body);
  SayGzipped(r);
}

}  // namespace concierge::http
