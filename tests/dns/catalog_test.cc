#include "dns/catalog.h"

#include <gtest/gtest.h>
#include <spdlog/spdlog.h>

#include "server/clock.h"
#include "server/watch_hub.h"

namespace concierge::dns {
namespace {

class RegistryCatalogTest : public ::testing::Test {
 protected:
  RegistryCatalogTest() { spdlog::set_level(spdlog::level::warn); }

  void Register(std::string id, std::string name) {
    core::RegisterService r;
    r.service.id = std::move(id);
    r.service.name = std::move(name);
    r.service.address = "10.0.0.1";
    auto applied = registry_.Apply(registry_.Prepare(std::move(r)));
    ASSERT_TRUE(applied.ok()) << applied.status().message();
  }

  server::FakeClock clock_;
  server::Metrics metrics_;
  server::WatchHub hub_;
  server::Registry registry_{clock_, server::RegistryOptions{}, &hub_, metrics_};
  RegistryCatalog catalog_{registry_};
};

TEST_F(RegistryCatalogTest, FindsServicesRegardlessOfCase) {
  Register("web-1", "web");
  Register("api-1", "API");
  Register("api-2", "API");
  EXPECT_EQ(catalog_.Service("web").size(), 1u);
  EXPECT_EQ(catalog_.Service("api").size(), 2u);
  EXPECT_TRUE(catalog_.Service("nosuch").empty());
  // A name registered after the first lookup is found too.
  Register("db-1", "Db");
  EXPECT_EQ(catalog_.Service("db").size(), 1u);
}

TEST_F(RegistryCatalogTest, ViewStaysValidUntilTheNextCall) {
  Register("web-1", "web");
  auto view = catalog_.Service("web");
  ASSERT_EQ(view.size(), 1u);
  auto dereg = registry_.Apply(registry_.Prepare(core::DeregisterService{"web-1", {}}));
  ASSERT_TRUE(dereg.ok());
  registry_.Collect();
  EXPECT_EQ(view[0]->service.id, "web-1");
  EXPECT_TRUE(catalog_.Service("web").empty());
}

}  // namespace
}  // namespace concierge::dns
