// libFuzzer target: any bytes through the Consul JSON decoders of a service registration
// (PUT /v1/agent/service/register) and a check update (PUT /v1/agent/check/update/:id).
// What decodes is then validated and applied to a fresh catalog, as the agent would do.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/catalog.h"
#include "core/command.h"
#include "http/consul_json.h"

namespace {

using namespace concierge;

void Check(bool ok) {
  if (!ok) std::abort();
}

// Validate, then apply; Apply must agree with Validate.
void ValidateAndApply(core::Catalog& catalog, const core::Command& command, core::Index index) {
  auto valid = catalog.Validate(command);
  auto applied = catalog.Apply(command, index);
  Check(valid.ok() == applied.ok());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);

  if (auto reg = http::DecodeServiceRegistration(body); reg.ok()) {
    core::RegisterService cmd = *reg;
    // The agent fills an empty address from the client's.
    if (cmd.service.address.empty()) cmd.service.address = "10.0.0.1";
    cmd.at = core::Time(core::Duration(1'000'000'000));
    core::Catalog catalog;
    ValidateAndApply(catalog, cmd, 1);
    // Registering the same thing again is an update, never a crash.
    cmd.at += core::Duration(1);
    ValidateAndApply(catalog, cmd, 2);
    // And every check it declared can be updated, then the service removed.
    core::Index index = 3;
    for (const auto& check : cmd.checks) {
      core::UpdateCheck update{std::string(check.id.view()), core::HealthStatus::kWarning, "fuzz",
                               cmd.at + core::Duration(index)};
      ValidateAndApply(catalog, update, index);
      ++index;
    }
    ValidateAndApply(catalog, core::DeregisterService{std::string(cmd.service.id.view()), cmd.at},
                     index);
  }

  if (auto update = http::DecodeCheckUpdate(body); update.ok()) {
    core::Catalog catalog;
    core::RegisterService reg;
    reg.service.id = "web-1";
    reg.service.name = "web";
    reg.service.address = "10.0.0.1";
    reg.service.port = 80;
    core::CheckDefinition check;
    check.id = "service:web-1";
    check.ttl = core::Duration(10'000'000'000);
    reg.checks.push_back(check);
    reg.at = core::Time(core::Duration(1'000'000'000));
    Check(catalog.Apply(reg, 1).ok());
    ValidateAndApply(catalog,
                     core::UpdateCheck{"service:web-1", update->status, update->output,
                                       reg.at + core::Duration(1)},
                     2);
  }
  return 0;
}
