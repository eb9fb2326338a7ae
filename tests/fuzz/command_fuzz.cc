// libFuzzer target: any bytes through the Raft log's command decoder. What decodes must
// encode and decode again to an equal command, and applying it to a small catalog (valid or
// not) must not crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "core/catalog.h"
#include "core/codec.h"
#include "core/command.h"

namespace {

using namespace concierge;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Two services, three instances, TTL checks in every status: something for deregister,
// update-check and reap commands to hit.
const core::Catalog& SmallCatalog() {
  static const core::Catalog catalog = [] {
    core::Catalog c;
    core::Index index = 0;
    auto add = [&](std::string id, std::string name, int checks, core::HealthStatus status) {
      core::RegisterService reg;
      reg.service.id = id;
      reg.service.name = std::move(name);
      reg.service.address = "10.0.0.1";
      reg.service.port = 80;
      reg.service.tags = {"primary", "v1"};
      for (int i = 0; i < checks; ++i) {
        core::CheckDefinition check;
        check.id = "service:" + id + (checks > 1 ? ":" + std::to_string(i + 1) : "");
        check.ttl = core::Duration(10'000'000'000);
        check.deregister_critical_after = core::Duration(60'000'000'000);
        check.initial_status = status;
        reg.checks.push_back(std::move(check));
      }
      reg.at = core::Time(core::Duration(1'000'000'000 + index));
      ++index;
      Check(c.Apply(reg, index).ok());
    };
    add("web-1", "web", 1, core::HealthStatus::kPassing);
    add("web-2", "web", 2, core::HealthStatus::kCritical);
    add("api", "api", 1, core::HealthStatus::kWarning);
    add("db", "db", 0, core::HealthStatus::kPassing);
    return c;
  }();
  return catalog;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto decoded = core::DecodeCommand(bytes);
  if (!decoded.ok()) return 0;

  // Round trip: encode, decode, compare.
  std::string encoded = core::EncodeCommand(*decoded);
  auto again = core::DecodeCommand(encoded);
  Check(again.ok());
  Check(*again == *decoded);
  Check(core::EncodeCommand(*again) == encoded);

  // Apply to a copy of the small catalog; Apply must agree with Validate, and a failed
  // Apply must leave the state unchanged.
  core::Catalog catalog = SmallCatalog();
  std::string before = catalog.EncodeSnapshot();
  auto valid = catalog.Validate(*decoded);
  auto applied = catalog.Apply(*decoded, catalog.index() + 1);
  // A part of a restore is checked by the registry once it has them all (Validate lets
  // each part through); the catalog refuses one that is not a whole snapshot.
  const auto* restore = std::get_if<core::RestoreSnapshot>(&*decoded);
  if (restore == nullptr || restore->parts == 1) Check(valid.ok() == applied.ok());
  if (!applied.ok()) Check(catalog.EncodeSnapshot() == before);
  return 0;
}
