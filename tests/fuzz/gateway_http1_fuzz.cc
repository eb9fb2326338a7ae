// libFuzzer target: the gateway's hand-written HTTP/1 parser (src/gateway/http1.cc), which
// reads bytes from any client and any backend. Any input goes through the request and the
// response head parsers, the body framing rules, and the chunked scanner fed in pieces;
// what each accepts must hold together (views inside the input, sizes within it, the same
// verdict whether the bytes came at once or in pieces).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "gateway/http1.h"

namespace {

using namespace concierge::gateway::http1;

void Check(bool ok) {
  if (!ok) std::abort();
}

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void CheckHead(const Head& head, std::string_view data) {
  Check(head.size > 0 && head.size <= data.size());
  Check(Inside(head.method, data) && Inside(head.target, data) && Inside(head.reason, data));
  for (const Header& h : head.headers) Check(Inside(h.name, data) && Inside(h.value, data));
}

// The chunked scanner over `body` given whole, then in pieces of `step` bytes: both must
// reach the same verdict and the same end.
void CheckChunked(std::string_view body, std::size_t step) {
  std::string error;
  ChunkedScanner whole;
  Parse at_once = whole.Scan(body, 1 << 20, &error);
  ChunkedScanner pieces;
  Parse in_pieces = Parse::kIncomplete;
  for (std::size_t n = step; in_pieces == Parse::kIncomplete; n += step) {
    in_pieces = pieces.Scan(body.substr(0, std::min(n, body.size())), 1 << 20, &error);
    if (n >= body.size()) break;
  }
  Check(at_once == in_pieces);
  if (at_once != Parse::kDone) return;
  Check(whole.end() == pieces.end() && whole.end() <= body.size());
  Check(Dechunk(body.substr(0, whole.end())).size() <= whole.end());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size == 0) return 0;
  // The first byte picks the piece size for the incremental scan; the rest is the input.
  const std::size_t step = 1 + bytes[0] % 16;
  std::string_view data(reinterpret_cast<const char*>(bytes) + 1, size - 1);

  Head request;
  std::string error;
  bool too_large = false;
  if (ParseRequest(data, 8192, request, &error, &too_large) == Parse::kDone) {
    CheckHead(request, data);
    Body body;
    if (RequestBody(request, &body, &error) && body.framing == Framing::kChunked) {
      CheckChunked(data.substr(request.size), step);
    }
    (void)HasToken(request.Get("connection"), "close");
  }
  Head response;
  if (ParseResponse(data, 8192, response, &error) == Parse::kDone) {
    CheckHead(response, data);
    Body body;
    (void)ResponseBody(response, false, &body, &error);
    (void)ResponseBody(response, true, &body, &error);
  }
  CheckChunked(data, step);
  return 0;
}
