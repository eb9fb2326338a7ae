// Eureka's view of the catalog (http/eureka.h) and its REST API (http/eureka_api.h): the
// registration's decoding and Eureka's 400s, the status and name mapping, the JSON and XML
// shapes clients parse, the delta's changes, and the API's flows through ConsulApi with a
// fake clock (register, renew, expiry, re-registration, overrides, metadata, cancel).
#include "http/eureka.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <future>

#include "api_fixture.h"
#include "http/consul_api.h"
#include "http/eureka_api.h"

namespace concierge::http {
namespace {

namespace asio = boost::asio;
using core::HealthStatus;
using namespace std::chrono_literals;

std::string Body(std::string_view instance_fields) {
  return std::string(R"({"instance":{"instanceId":"i-1","hostName":"host-1","app":"MY-APP",)"
                     R"("ipAddr":"10.0.0.1","dataCenterInfo":{"@class":"com.netflix.appinfo.)"
                     R"(InstanceInfo$DefaultDataCenterInfo","name":"MyOwn"})") +
         std::string(instance_fields) + "}}";
}

std::string Meta(const core::ServiceDefinition& s, std::string_view key) {
  for (const auto& [k, v] : s.meta) {
    if (k == key) return v.str();
  }
  return "<none>";
}

TEST(EurekaDecodeTest, ARegistrationBecomesAnInstanceWithALeaseCheck) {
  auto reg = DecodeEurekaRegistration(
      Body(R"(,"status":"STARTING","port":{"$":8080,"@enabled":"true"},)"
           R"("securePort":{"$":"8443","@enabled":false},"vipAddress":"my-vip,other",)"
           R"("leaseInfo":{"renewalIntervalInSecs":5,"durationInSecs":"15"},)"
           R"("metadata":{"zone":"a","management.port":"8081"},"homePageUrl":"http://h/",)"
           R"("lastDirtyTimestamp":"1700000000000")"),
      "my-app");
  ASSERT_TRUE(reg.ok()) << reg.status().message();
  const core::ServiceDefinition& s = reg->command.service;
  EXPECT_EQ(s.id, "i-1");
  EXPECT_EQ(s.name, "my-app");
  EXPECT_EQ(s.address, "10.0.0.1");
  EXPECT_EQ(s.port, 8080);
  EXPECT_EQ(reg->status, EurekaStatus::kStarting);
  EXPECT_EQ(Meta(s, "zone"), "a");
  EXPECT_EQ(Meta(s, "management.port"), "8081");
  EXPECT_EQ(Meta(s, "eureka-app"), "MY-APP");
  EXPECT_EQ(Meta(s, "eureka-hostname"), "host-1");
  EXPECT_EQ(Meta(s, "eureka-vip"), "my-vip,other");
  EXPECT_EQ(Meta(s, "eureka-renewal-secs"), "5");
  EXPECT_EQ(Meta(s, "eureka-home-page-url"), "http://h/");
  EXPECT_EQ(Meta(s, "eureka-dirty-timestamp"), "1700000000000");
  EXPECT_EQ(Meta(s, "eureka-secure-port"), "<none>");  // disabled
  ASSERT_EQ(reg->command.checks.size(), 1u);
  const core::CheckDefinition& lease = reg->command.checks[0];
  EXPECT_EQ(lease.id, "service:i-1");
  EXPECT_EQ(lease.kind, core::CheckKind::kTtl);
  EXPECT_EQ(lease.ttl, 15s);
  EXPECT_EQ(lease.initial_status, HealthStatus::kWarning);
}

TEST(EurekaDecodeTest, DefaultsAreEurekas) {
  // No instanceId: the host name is the ID (InstanceInfo.getId); no lease: 90 s; no status: UP.
  auto reg = DecodeEurekaRegistration(
      R"({"instance":{"hostName":"h","app":"a","ipAddr":"10.0.0.2","port":8080,)"
      R"("metadata":{"@class":"java.util.Collections$EmptyMap"},"dataCenterInfo":{"name":"MyOwn"}}})",
      "A");
  ASSERT_TRUE(reg.ok()) << reg.status().message();
  EXPECT_EQ(reg->command.service.id, "h");
  EXPECT_EQ(reg->command.service.port, 8080);
  EXPECT_EQ(reg->command.checks[0].ttl, 90s);
  EXPECT_EQ(reg->status, EurekaStatus::kUp);
  EXPECT_EQ(Meta(reg->command.service, "@class"), "<none>");
}

TEST(EurekaDecodeTest, BadRegistrationsGetEurekasMessages) {
  auto error = [](std::string body, std::string_view app = "MY-APP") {
    auto reg = DecodeEurekaRegistration(body, app);
    EXPECT_FALSE(reg.ok()) << body;
    return reg.ok() ? std::string() : reg.status().message();
  };
  EXPECT_EQ(
      error(
          R"({"instance":{"app":"MY-APP","ipAddr":"1.2.3.4","dataCenterInfo":{"name":"MyOwn"}}})"),
      "Missing instanceId");
  EXPECT_EQ(error(R"({"instance":{"instanceId":"x","app":"MY-APP","ipAddr":"1.2.3.4"}})"),
            "Missing hostname");
  EXPECT_EQ(error(R"({"instance":{"instanceId":"x","hostName":"h","app":"MY-APP"}})"),
            "Missing ip address");
  EXPECT_EQ(error(R"({"instance":{"instanceId":"x","hostName":"h","ipAddr":"1.2.3.4"}})"),
            "Missing appName");
  EXPECT_EQ(error(Body(""), "OTHER"), "Mismatched appName, expecting OTHER but was MY-APP");
  EXPECT_EQ(error(R"({"instance":{"instanceId":"x","hostName":"h","app":"MY-APP","ipAddr":"1"}})"),
            "Missing dataCenterInfo");
  EXPECT_EQ(error(R"({"instance":{"instanceId":"x","hostName":"h","app":"MY-APP","ipAddr":"1",)"
                  R"("dataCenterInfo":{}}})"),
            "Missing dataCenterInfo Name");
  EXPECT_NE(error(Body(R"(,"status":"SLEEPY")")).find("instance.status"), std::string::npos);
  EXPECT_NE(error(Body(R"(,"port":{"$":70000})")).find("instance.port"), std::string::npos);
  EXPECT_NE(error(Body(R"(,"port":{"@enabled":"true"})")).find("\"$\""), std::string::npos);
  EXPECT_NE(error(Body(R"(,"metadata":{"eureka-app":"x"})")).find("reserved"), std::string::npos);
  EXPECT_NE(error(Body(R"(,"metadata":[1])")).find("instance.metadata"), std::string::npos);
  EXPECT_NE(error(Body(R"(,"leaseInfo":{"durationInSecs":"soon"})")).find("durationInSecs"),
            std::string::npos);
  EXPECT_NE(error("<instance><app>MY-APP</app></instance>").find("XML"), std::string::npos);
  EXPECT_NE(error("{\"instance\":").find("not valid JSON"), std::string::npos);
  EXPECT_NE(error("[]").find("{\"instance\""), std::string::npos);
  EXPECT_NE(error(R"({"instance":{"instanceId":"a/b","hostName":"h","app":"MY-APP","ipAddr":"1",)"
                  R"("dataCenterInfo":{"name":"MyOwn"}}})")
                .find("'/'"),
            std::string::npos);
}

TEST(EurekaMappingTest, StatusesNamesAndHashcodes) {
  EXPECT_EQ(HealthOf(EurekaStatus::kUp), HealthStatus::kPassing);
  EXPECT_EQ(HealthOf(EurekaStatus::kStarting), HealthStatus::kWarning);
  EXPECT_EQ(HealthOf(EurekaStatus::kDown), HealthStatus::kCritical);
  EXPECT_EQ(HealthOf(EurekaStatus::kOutOfService), HealthStatus::kPassing);
  for (auto s : {EurekaStatus::kUp, EurekaStatus::kDown, EurekaStatus::kStarting,
                 EurekaStatus::kOutOfService, EurekaStatus::kUnknown}) {
    EXPECT_EQ(ParseEurekaStatus(ToString(s)), s);
  }
  EXPECT_EQ(ParseEurekaStatus("up"), std::nullopt);
  EXPECT_EQ(ServiceNameOfApp("MY-APP"), "my-app");
  EXPECT_EQ(AppOfService("my-app"), "MY-APP");
  // Eureka's Applications.getReconcileHashCode: statuses sorted by name.
  EXPECT_EQ(AppsHashcode({1, 0, 2, 0, 3}), "DOWN_1_STARTING_2_UP_3_");
  EXPECT_EQ(AppsHashcode({}), "");
  EXPECT_TRUE(HasVip("a,b", "b"));
  EXPECT_TRUE(HasVip("a", "a"));
  EXPECT_FALSE(HasVip("ab,c", "a"));
  EXPECT_EQ(FormatOf(std::nullopt), EurekaFormat::kXml);
  EXPECT_EQ(FormatOf("application/json"), EurekaFormat::kJson);
  EXPECT_EQ(FormatOf("application/xml"), EurekaFormat::kXml);
}

core::Instance InstanceOf(const EurekaRegistration& reg, HealthStatus status,
                          std::string output = "") {
  core::Instance inst;
  inst.service = reg.command.service;
  core::Check c;
  c.definition = reg.command.checks[0];
  c.status = status;
  c.output = output;
  c.status_since = core::Time(std::chrono::milliseconds(1700000000123));
  inst.checks.push_back(c);
  return inst;
}

TEST(EurekaMappingTest, AnInstancesStatusOverrideAndLease) {
  auto reg = DecodeEurekaRegistration(Body(""), "MY-APP");
  ASSERT_TRUE(reg.ok());
  EXPECT_EQ(StatusOf(InstanceOf(*reg, HealthStatus::kPassing)), EurekaStatus::kUp);
  EXPECT_EQ(StatusOf(InstanceOf(*reg, HealthStatus::kWarning)), EurekaStatus::kStarting);
  EXPECT_EQ(StatusOf(InstanceOf(*reg, HealthStatus::kCritical)), EurekaStatus::kDown);
  EXPECT_FALSE(LeaseExpired(InstanceOf(*reg, HealthStatus::kCritical)));
  EXPECT_TRUE(LeaseExpired(InstanceOf(*reg, HealthStatus::kCritical, "TTL expired: no heartbeat")));
  core::Instance overridden =
      InstanceOf(*reg, HealthStatus::kCritical, std::string(kOverridePrefix) + "DOWN");
  EXPECT_EQ(OverriddenStatusOf(overridden), EurekaStatus::kDown);
  EXPECT_EQ(OverriddenStatusOf(InstanceOf(*reg, HealthStatus::kPassing)), EurekaStatus::kUnknown);
  core::Instance maintenance = InstanceOf(*reg, HealthStatus::kPassing);
  core::Check m;
  m.definition.id = "_service_maintenance:i-1";
  m.definition.notes = std::string(kOverridePrefix) + "OUT_OF_SERVICE";
  m.status = HealthStatus::kCritical;
  maintenance.checks.push_back(m);
  EXPECT_EQ(StatusOf(maintenance), EurekaStatus::kOutOfService);
  EXPECT_EQ(OverriddenStatusOf(maintenance), EurekaStatus::kOutOfService);
}

TEST(EurekaEncodeTest, JsonHasTheFieldsClientsParse) {
  auto reg = DecodeEurekaRegistration(
      Body(R"(,"port":{"$":8080,"@enabled":"true"},"vipAddress":"v","metadata":{"k":"v"},)"
           R"("leaseInfo":{"durationInSecs":30})"),
      "MY-APP");
  ASSERT_TRUE(reg.ok());
  auto inst = std::make_shared<const core::Instance>(InstanceOf(*reg, HealthStatus::kPassing));
  std::string text = EncodeApplications({{"MY-APP", "my-app", {{inst, ActionType::kAdded}}}}, 7,
                                        "UP_1_", EurekaFormat::kJson);
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(text.c_str());
  ASSERT_FALSE(doc.HasParseError()) << text;
  const auto& apps = doc["applications"];
  EXPECT_STREQ(apps["versions__delta"].GetString(), "7");
  EXPECT_STREQ(apps["apps__hashcode"].GetString(), "UP_1_");
  const auto& app = apps["application"][0];
  EXPECT_STREQ(app["name"].GetString(), "MY-APP");
  const auto& i = app["instance"][0];
  EXPECT_STREQ(i["instanceId"].GetString(), "i-1");
  EXPECT_STREQ(i["hostName"].GetString(), "host-1");
  EXPECT_STREQ(i["app"].GetString(), "MY-APP");
  EXPECT_STREQ(i["ipAddr"].GetString(), "10.0.0.1");
  EXPECT_STREQ(i["status"].GetString(), "UP");
  EXPECT_STREQ(i["overriddenStatus"].GetString(), "UNKNOWN");
  EXPECT_STREQ(i["overriddenstatus"].GetString(), "UNKNOWN");
  EXPECT_EQ(i["port"]["$"].GetInt(), 8080);
  EXPECT_STREQ(i["port"]["@enabled"].GetString(), "true");
  EXPECT_EQ(i["securePort"]["$"].GetInt(), 443);
  EXPECT_STREQ(i["securePort"]["@enabled"].GetString(), "false");
  EXPECT_STREQ(i["dataCenterInfo"]["@class"].GetString(),
               "com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo");
  EXPECT_STREQ(i["dataCenterInfo"]["name"].GetString(), "MyOwn");
  EXPECT_EQ(i["leaseInfo"]["durationInSecs"].GetInt(), 30);
  EXPECT_EQ(i["leaseInfo"]["renewalIntervalInSecs"].GetInt(), 30);
  EXPECT_EQ(i["leaseInfo"]["registrationTimestamp"].GetInt64(), 1700000000123);
  EXPECT_STREQ(i["metadata"]["k"].GetString(), "v");
  EXPECT_FALSE(i["metadata"].HasMember("eureka-app"));
  EXPECT_STREQ(i["vipAddress"].GetString(), "v");
  EXPECT_STREQ(i["lastUpdatedTimestamp"].GetString(), "1700000000123");
  EXPECT_STREQ(i["lastDirtyTimestamp"].GetString(), "1700000000123");
  EXPECT_STREQ(i["actionType"].GetString(), "ADDED");
  EXPECT_STREQ(i["isCoordinatingDiscoveryServer"].GetString(), "false");
}

TEST(EurekaEncodeTest, XmlAndAConsulInstance) {
  // Registered through Consul's API: no Eureka fields, empty metadata, the name as the VIP.
  auto inst = std::make_shared<core::Instance>();
  inst->service.id = "web-1";
  inst->service.name = "web";
  inst->service.address = "10.0.0.9";
  inst->service.port = 80;
  std::string xml = EncodeInstance(*inst, EurekaFormat::kXml);
  for (std::string_view want :
       {"<instance><instanceId>web-1</instanceId><hostName>10.0.0.9</hostName><app>WEB</app>",
        "<status>UP</status><overriddenstatus>UNKNOWN</overriddenstatus>",
        "<port enabled=\"true\">80</port><securePort enabled=\"false\">443</securePort>",
        "<dataCenterInfo class=\"com.netflix.appinfo.InstanceInfo$DefaultDataCenterInfo\">"
        "<name>MyOwn</name></dataCenterInfo>",
        "<durationInSecs>90</durationInSecs>",
        "<metadata class=\"java.util.Collections$EmptyMap\"/>", "<vipAddress>web</vipAddress>",
        "<actionType>ADDED</actionType></instance>"}) {
    EXPECT_NE(xml.find(want), std::string::npos) << want << "\n" << xml;
  }
  std::string apps = EncodeApplications({{"WEB", "web", {{inst, ActionType::kDeleted}}}}, 3, "",
                                        EurekaFormat::kXml);
  EXPECT_TRUE(
      apps.starts_with("<applications><versions__delta>3</versions__delta>"
                       "<apps__hashcode></apps__hashcode><application><name>WEB</name>"))
      << apps;
  EXPECT_NE(apps.find("<actionType>DELETED</actionType>"), std::string::npos);
  inst->service.meta = std::vector<std::pair<core::Symbol, core::Symbol>>{{"a<b", "x&y"}};
  EXPECT_NE(EncodeInstance(*inst, EurekaFormat::kXml).find("<a_b>x&amp;y</a_b>"),
            std::string::npos);
}

// --- The API, through ConsulApi as the agent routes it ----------------------------------

class EurekaApiTest : public ApiFixture {
 protected:
  Response Call(std::string method, std::string target, std::string body = "",
                Headers headers = {}) {
    Request req =
        MakeRequest(std::move(method), std::move(target), std::move(body), std::move(headers));
    return Run(api_, req, ctx_);
  }
  Response Json(std::string target) {
    return Call("GET", std::move(target), "", {{"Accept", "application/json"}});
  }
  // Time passes on the state thread: expiries run.
  void Advance(core::Duration d) {
    clock_.Advance(d);
    std::promise<void> done;
    state_.Post([&] {
      registry_.RunTimers();
      registry_.Flush();
      done.set_value();
    });
    done.get_future().wait();
  }
  std::string StatusOfI1() {
    rapidjson::Document doc;
    std::string body = Json("/eureka/apps/MY-APP/i-1").body;
    doc.Parse<rapidjson::kParseIterativeFlag>(body.c_str());
    if (doc.HasParseError() || !doc.IsObject()) return "<" + body + ">";
    return doc["instance"]["status"].GetString();
  }

  asio::io_context ctx_;
};

TEST_F(EurekaApiTest, RegisterRenewExpireReregisterCancel) {
  const std::string body = Body(R"(,"port":{"$":8080,"@enabled":"true"},"vipAddress":"my-vip",)"
                                R"("leaseInfo":{"durationInSecs":10})");
  EXPECT_EQ(Call("POST", "/eureka/apps/MY-APP", body).status, 204);
  EXPECT_EQ(StatusOfI1(), "UP");
  // The same instance in Consul's view.
  Response health = Call("GET", "/v1/health/service/my-app");
  EXPECT_NE(health.Body().find("\"ID\":\"i-1\""), std::string::npos) << health.Body();
  EXPECT_NE(health.Body().find("\"Status\":\"passing\""), std::string::npos);
  // Renewals: heartbeats, no write.
  const core::Index before = registry_.index();
  for (int i = 0; i < 5; ++i) {
    Advance(8s);
    EXPECT_EQ(Call("PUT", "/eureka/v2/apps/MY-APP/i-1").status, 200);
  }
  EXPECT_EQ(registry_.index(), before);
  EXPECT_EQ(Call("PUT", "/eureka/apps/OTHER/i-1").status, 404);
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/nobody").status, 404);
  EXPECT_NE(Json("/eureka/apps").body.find("i-1"), std::string::npos);
  // The lease ends: gone from Eureka's view at once, a renewal is told to register again.
  Advance(11s);
  EXPECT_EQ(Json("/eureka/apps/MY-APP/i-1").status, 404);
  EXPECT_EQ(Json("/eureka/apps").body.find("i-1"), std::string::npos);
  EXPECT_NE(Json("/eureka/apps/delta").body.find("\"actionType\":\"DELETED\""), std::string::npos);
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/i-1").status, 404);
  EXPECT_EQ(Call("POST", "/eureka/apps/MY-APP", body).status, 204);
  EXPECT_EQ(StatusOfI1(), "UP") << Call("GET", "/v1/health/service/my-app").Body();
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/i-1").status, 200);
  // Found by VIP and by ID.
  EXPECT_NE(Json("/eureka/vips/my-vip").body.find("\"instanceId\":\"i-1\""), std::string::npos);
  EXPECT_EQ(Json("/eureka/vips/other").body.find("i-1"), std::string::npos);
  EXPECT_EQ(Json("/eureka/instances/i-1").status, 200);
  EXPECT_EQ(Call("DELETE", "/eureka/apps/MY-APP/i-1").status, 200);
  EXPECT_EQ(Call("DELETE", "/eureka/apps/MY-APP/i-1").status, 404);
  EXPECT_EQ(registry_.Instance("i-1"), nullptr);
}

TEST_F(EurekaApiTest, StatusesOverridesAndMetadata) {
  EXPECT_EQ(Call("POST", "/eureka/apps/MY-APP", Body(R"(,"status":"STARTING")")).status, 204);
  EXPECT_EQ(StatusOfI1(), "STARTING");
  EXPECT_EQ(Call("POST", "/eureka/apps/MY-APP", Body(R"(,"status":"UP")")).status, 204);
  EXPECT_EQ(StatusOfI1(), "UP");
  // OUT_OF_SERVICE is maintenance mode: critical to Consul's clients, the lease still kept.
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/i-1/status?value=OUT_OF_SERVICE").status, 200);
  EXPECT_EQ(StatusOfI1(), "OUT_OF_SERVICE");
  EXPECT_EQ(Call("GET", "/v1/health/service/my-app?passing").Body().find("i-1"), std::string::npos);
  // An override outlives the client's registrations.
  EXPECT_EQ(Call("POST", "/eureka/apps/MY-APP", Body(R"(,"status":"UP")")).status, 204);
  EXPECT_EQ(StatusOfI1(), "OUT_OF_SERVICE");
  EXPECT_EQ(Call("DELETE", "/eureka/apps/MY-APP/i-1/status").status, 200);
  EXPECT_EQ(StatusOfI1(), "UP");
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/i-1/status?value=DOWN").status, 200);
  EXPECT_EQ(StatusOfI1(), "DOWN");
  EXPECT_NE(Json("/eureka/apps/MY-APP/i-1").body.find("\"overriddenStatus\":\"DOWN\""),
            std::string::npos);
  EXPECT_EQ(Call("POST", "/eureka/apps/MY-APP", Body(R"(,"status":"UP")")).status, 204);
  EXPECT_EQ(StatusOfI1(), "DOWN");
  EXPECT_EQ(Call("DELETE", "/eureka/apps/MY-APP/i-1/status?value=UP").status, 200);
  EXPECT_EQ(StatusOfI1(), "UP");
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/i-1/status?value=ASLEEP").status, 400);
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/i-1/status").status, 400);
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/nobody/status?value=UP").status, 404);
  // A client registered OUT_OF_SERVICE, then UP.
  EXPECT_EQ(Call("POST", "/eureka/apps/MY-APP", Body(R"(,"status":"OUT_OF_SERVICE")")).status, 204);
  EXPECT_EQ(StatusOfI1(), "OUT_OF_SERVICE");
  EXPECT_EQ(Call("POST", "/eureka/apps/MY-APP", Body(R"(,"status":"UP")")).status, 204);
  EXPECT_EQ(StatusOfI1(), "UP");
  // Metadata: added to, Eureka's own fields kept.
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/i-1/metadata?zone=b&team=x").status, 200);
  std::string json = Json("/eureka/apps/MY-APP/i-1").body;
  EXPECT_NE(json.find("\"metadata\":{\"team\":\"x\",\"zone\":\"b\"}"), std::string::npos) << json;
  EXPECT_NE(json.find("\"hostName\":\"host-1\""), std::string::npos);
  EXPECT_EQ(Call("PUT", "/eureka/apps/MY-APP/i-1/metadata?eureka-app=x").status, 400);
  EXPECT_EQ(StatusOfI1(), "UP");
}

TEST_F(EurekaApiTest, BadInputRegistersNothing) {
  Response r = Call("POST", "/eureka/apps/MY-APP", Body("").substr(10));
  EXPECT_EQ(r.status, 400);
  r = Call("POST", "/eureka/apps/OTHER", Body(""));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "Mismatched appName, expecting OTHER but was MY-APP\n");
  // Past the catalog's limits (a 600-byte metadata value): refused by its validation.
  r = Call("POST", "/eureka/apps/MY-APP",
           Body(R"(,"metadata":{"k":")" + std::string(600, 'x') + "\"}"));
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(registry_.instance_count(), 0u);
  // An ID that a Consul service holds is not taken from it.
  EXPECT_EQ(Call("PUT", "/v1/agent/service/register", R"({"ID":"i-1","Name":"web"})").status, 200);
  r = Call("POST", "/eureka/apps/MY-APP", Body(""));
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(registry_.Instance("i-1")->service.name, "web");
}

TEST_F(EurekaApiTest, ConsulInstancesAppearAndTheDeltaCarriesChanges) {
  EXPECT_EQ(Call("PUT", "/v1/agent/service/register",
                 R"({"ID":"web-1","Name":"web","Port":80,"Address":"10.0.0.5",)"
                 R"("Check":{"TTL":"1h","Status":"passing"}})")
                .status,
            200);
  Response full = Json("/eureka/apps");
  EXPECT_NE(full.body.find("\"name\":\"WEB\""), std::string::npos) << full.body;
  EXPECT_NE(full.body.find("\"apps__hashcode\":\"UP_1_\""), std::string::npos);
  EXPECT_NE(Call("GET", "/eureka/apps").body.find("<applications>"), std::string::npos);
  EXPECT_EQ(Call("GET", "/eureka/apps").content_type, "application/xml");
  // A change through Consul's API is a MODIFIED entry of the delta.
  EXPECT_EQ(Call("PUT", "/v1/agent/check/warn/service:web-1").status, 200);
  std::string delta = Json("/eureka/apps/delta").body;
  EXPECT_NE(delta.find("\"status\":\"STARTING\",\"overriddenStatus\":\"UNKNOWN\","
                       "\"overriddenstatus\":\"UNKNOWN\""),
            std::string::npos)
      << delta;
  EXPECT_NE(delta.find("\"actionType\":\"MODIFIED\""), std::string::npos);
  EXPECT_NE(delta.find("\"apps__hashcode\":\"STARTING_1_\""), std::string::npos);
  // Three minutes on, the delta is empty; the full registry is not.
  Advance(181s);
  EXPECT_EQ(Json("/eureka/apps/delta").body.find("web-1"), std::string::npos);
  EXPECT_NE(Json("/eureka/apps").body.find("web-1"), std::string::npos);
  // gzip when asked.
  Response gz = Call("GET", "/eureka/apps", "", {{"Accept-Encoding", "gzip, deflate"}});
  ASSERT_GE(gz.body.size(), 2u);
  EXPECT_EQ(static_cast<unsigned char>(gz.body[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(gz.body[1]), 0x8b);
  EXPECT_EQ(Json("/eureka/apps/NOPE").status, 404);
  // "/eureka/apps/" (eureka-js-client's path) is the registry.
  EXPECT_NE(Json("/eureka/apps/").body.find("\"applications\""), std::string::npos);
}

}  // namespace
}  // namespace concierge::http
