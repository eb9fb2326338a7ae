// libFuzzer target: any bytes through the catalog snapshot decoder. What decodes must encode
// to bytes that decode again and re-encode to the same bytes (older format versions are
// upgraded by the first encoding, so the input itself need not come back).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/catalog.h"

namespace {

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using concierge::core::Catalog;
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = Catalog::DecodeSnapshot(bytes);
  if (!decoded.ok()) return 0;

  std::string first = decoded->EncodeSnapshot();
  auto again = Catalog::DecodeSnapshot(first);
  Check(again.ok());
  Check(again->EncodeSnapshot() == first);
  Check(again->index() == decoded->index());
  Check(again->services_index() == decoded->services_index());
  Check(again->instance_count() == decoded->instance_count());
  return 0;
}
