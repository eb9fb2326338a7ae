#include "dns/answer.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "dns_test_util.h"

namespace concierge::dns {
namespace {

using testing::Decode;
using testing::MakeQuery;
using testing::QueryOptions;
using testing::Response;
using Bytes = std::vector<std::uint8_t>;

// The catalog as a map; names are matched as the registry adapter matches them.
class FakeCatalog : public CatalogView {
 public:
  std::span<const std::shared_ptr<const core::Instance>> Service(std::string_view name) override {
    ++lookups;
    for (auto& [n, list] : services) {
      if (EqualsIgnoreCase(n, name)) return list;
    }
    return {};
  }

  void Add(std::string name, std::string id, std::string address, std::uint16_t port,
           core::HealthStatus status = core::HealthStatus::kPassing,
           std::vector<std::string> tags = {}, int weight = 1) {
    auto inst = std::make_shared<core::Instance>();
    inst->service.id = std::move(id);
    inst->service.name = name;
    inst->service.address = std::move(address);
    inst->service.port = port;
    inst->service.tags = core::TagList(tags.begin(), tags.end());
    inst->service.weights.passing = weight;
    core::Check check;
    check.status = status;
    inst->checks.push_back(check);
    services[name].push_back(std::move(inst));
  }

  std::map<std::string, std::vector<std::shared_ptr<const core::Instance>>> services;
  int lookups = 0;
};

class AnswerTest : public ::testing::Test {
 protected:
  AnswerTest() {
    options_.node_name = "node1";
    options_.node_address = "127.0.0.1";
    Build();
    catalog_.Add("web", "web-1", "10.0.0.1", 8080, core::HealthStatus::kPassing, {"primary"});
    catalog_.Add("web", "web-2", "10.0.0.2", 8081);
    catalog_.Add("web", "web-3", "127.0.0.1", 8082, core::HealthStatus::kPassing, {}, 5);
    catalog_.Add("web", "web-4", "10.0.0.4", 8083, core::HealthStatus::kCritical, {"primary"});
    catalog_.Add("web", "web-5", "10.0.0.5", 8084, core::HealthStatus::kWarning);
    catalog_.Add("down", "down-1", "10.0.1.1", 80, core::HealthStatus::kCritical);
  }

  void Build() {
    auto a = Answerer::Create(options_);
    ASSERT_TRUE(a.ok()) << a.status().message();
    answerer_ = std::move(*a);
  }

  Response Ask(const Bytes& query, Transport transport = Transport::kUdp) {
    Bytes out(kMaxMessage);
    std::size_t n = answerer_->Answer(query, transport, catalog_, scratch_, out);
    out.resize(n);
    last_size_ = n;
    auto res = Decode(out);
    EXPECT_TRUE(res) << "undecodable response";
    return res.value_or(Response{});
  }
  Response Ask(std::string_view name, std::uint16_t type, QueryOptions o = {},
               Transport transport = Transport::kUdp) {
    return Ask(MakeQuery(name, type, o), transport);
  }

  static std::set<std::string> Data(const std::vector<testing::Record>& records) {
    std::set<std::string> out;
    for (const auto& r : records) out.insert(r.data);
    return out;
  }

  AnswerOptions options_;
  std::unique_ptr<Answerer> answerer_;
  FakeCatalog catalog_;
  Scratch scratch_{42};
  std::size_t last_size_ = 0;
};

TEST_F(AnswerTest, AOfPassingInstancesOnly) {
  Response r = Ask("web.service.consul", 1);
  EXPECT_EQ(r.rcode, 0);
  EXPECT_TRUE(r.aa());
  EXPECT_FALSE(r.tc());
  EXPECT_EQ(r.id, 0x1234);
  EXPECT_TRUE(r.flags & 0x8000);
  EXPECT_TRUE(r.flags & 0x0100);   // RD echoed
  EXPECT_FALSE(r.flags & 0x0080);  // no recursion
  EXPECT_EQ(Data(r.answer), (std::set<std::string>{"10.0.0.1", "10.0.0.2", "127.0.0.1"}));
  for (const auto& rec : r.answer) {
    EXPECT_EQ(rec.name, "web.service.consul");
    EXPECT_EQ(rec.ttl, 0u);
  }
  EXPECT_TRUE(r.authority.empty());
}

TEST_F(AnswerTest, NamesIgnoreCaseAndTheQuestionKeepsIt) {
  Response r = Ask("WEB.Service.CONSUL", 1);
  EXPECT_EQ(r.rcode, 0);
  EXPECT_EQ(r.question, "WEB.Service.CONSUL");
  EXPECT_EQ(r.answer.size(), 3u);
  EXPECT_EQ(r.answer[0].name, "WEB.Service.CONSUL");
}

TEST_F(AnswerTest, SrvWithTargetsAndTheirAddresses) {
  for (std::string name : {"web.service.consul", "_web._tcp.service.consul"}) {
    Response r = Ask(name, 33);
    EXPECT_EQ(r.rcode, 0) << name;
    EXPECT_EQ(Data(r.answer), (std::set<std::string>{"1 1 8080 0a000001.addr.dc1.consul",
                                                     "1 1 8081 0a000002.addr.dc1.consul",
                                                     "1 5 8082 node1.node.dc1.consul"}))
        << name;
    std::set<std::string> additional;
    for (const auto& rec : r.additional) additional.insert(rec.name + " " + rec.data);
    EXPECT_EQ(additional, (std::set<std::string>{"0a000001.addr.dc1.consul 10.0.0.1",
                                                 "0a000002.addr.dc1.consul 10.0.0.2",
                                                 "node1.node.dc1.consul 127.0.0.1"}));
  }
}

TEST_F(AnswerTest, SrvTargetForAHostNameIsTheHostName) {
  catalog_.Add("api", "api-1", "api.example.com", 443);
  Response r = Ask("api.service.consul", 33);
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_EQ(r.answer[0].data, "1 1 443 api.example.com");
  EXPECT_TRUE(r.additional.empty());
  // An A query gets a CNAME when no instance has an address.
  r = Ask("api.service.consul", 1);
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_EQ(r.answer[0].type, 5);
  EXPECT_EQ(r.answer[0].data, "api.example.com");
}

TEST_F(AnswerTest, EmptyAddressMeansTheNode) {
  catalog_.Add("local", "local-1", "", 9000);
  EXPECT_EQ(Data(Ask("local.service.consul", 1).answer), (std::set<std::string>{"127.0.0.1"}));
  EXPECT_EQ(Data(Ask("local.service.consul", 33).answer),
            (std::set<std::string>{"1 1 9000 node1.node.dc1.consul"}));
}

TEST_F(AnswerTest, TagFilter) {
  Response r = Ask("primary.web.service.consul", 1);
  EXPECT_EQ(Data(r.answer), (std::set<std::string>{"10.0.0.1"}));  // web-4 is critical
  r = Ask("_web._primary.service.consul", 33);
  EXPECT_EQ(Data(r.answer), (std::set<std::string>{"1 1 8080 0a000001.addr.dc1.consul"}));
  r = Ask("PRIMARY.web.service.consul", 1);
  EXPECT_EQ(r.answer.size(), 1u);
  r = Ask("nosuchtag.web.service.consul", 1);
  EXPECT_EQ(r.rcode, 3);
}

TEST_F(AnswerTest, DatacenterLabel) {
  EXPECT_EQ(Ask("web.service.dc1.consul", 1).answer.size(), 3u);
  EXPECT_EQ(Ask("web.service.DC1.consul", 1).answer.size(), 3u);
  Response r = Ask("web.service.dc2.consul", 1);
  EXPECT_EQ(r.rcode, 3);
  // The datacenter itself exists (names below it), with no records.
  r = Ask("dc1.consul", 1);
  EXPECT_EQ(r.rcode, 0);
  EXPECT_TRUE(r.answer.empty());
  EXPECT_EQ(r.authority.size(), 1u);
}

TEST_F(AnswerTest, NxDomainWithSoa) {
  for (std::string name : {"nosuch.service.consul", "down.service.consul", "a.b.c.service.consul",
                           "whatever.consul", "x.y.consul"}) {
    Response r = Ask(name, 1);
    EXPECT_EQ(r.rcode, 3) << name;
    EXPECT_TRUE(r.aa()) << name;
    EXPECT_TRUE(r.answer.empty()) << name;
    ASSERT_EQ(r.authority.size(), 1u) << name;
    EXPECT_EQ(r.authority[0].type, 6);
    EXPECT_EQ(r.authority[0].name, "consul");
    EXPECT_EQ(r.authority[0].data.substr(0, 28), "ns.consul hostmaster.consul ");
  }
}

TEST_F(AnswerTest, NoDataWithSoa) {
  for (std::uint16_t type : {28, 16, 15, 6}) {  // AAAA, TXT, MX, SOA of an IPv4-only service
    Response r = Ask("web.service.consul", type);
    EXPECT_EQ(r.rcode, 0) << type;
    EXPECT_TRUE(r.answer.empty()) << type;
    ASSERT_EQ(r.authority.size(), 1u) << type;
    EXPECT_EQ(r.authority[0].type, 6);
  }
}

TEST_F(AnswerTest, Aaaa) {
  catalog_.Add("v6", "v6-1", "2001:db8::1", 80);
  catalog_.Add("v6", "v6-2", "10.9.9.9", 80);
  Response r = Ask("v6.service.consul", 28);
  EXPECT_EQ(Data(r.answer), (std::set<std::string>{"2001:db8::1"}));
  r = Ask("v6.service.consul", 255);  // ANY: both families
  EXPECT_EQ(Data(r.answer), (std::set<std::string>{"2001:db8::1", "10.9.9.9"}));
  r = Ask("v6.service.consul", 33);
  EXPECT_EQ(Data(r.answer),
            (std::set<std::string>{"1 1 80 20010db8000000000000000000000001.addr.dc1.consul",
                                   "1 1 80 0a090909.addr.dc1.consul"}));
}

TEST_F(AnswerTest, DuplicateAddressesAppearOnce) {
  catalog_.Add("dup", "dup-1", "10.1.1.1", 80);
  catalog_.Add("dup", "dup-2", "10.1.1.1", 81);
  Response r = Ask("dup.service.consul", 1);
  EXPECT_EQ(r.answer.size(), 1u);
  r = Ask("dup.service.consul", 33);
  EXPECT_EQ(r.answer.size(), 2u);
  EXPECT_EQ(r.additional.size(), 1u);
}

TEST_F(AnswerTest, OutsideTheDomain) {
  Response r = Ask("example.com", 1);
  EXPECT_EQ(r.rcode, 5);
  EXPECT_FALSE(r.aa());
  EXPECT_TRUE(r.authority.empty());
  options_.refuse_outside = false;
  Build();
  EXPECT_EQ(Ask("example.com", 1).rcode, 2);
  EXPECT_EQ(Ask("consul.example.com", 1).rcode, 2);
}

TEST_F(AnswerTest, OtherDomainAndTtl) {
  options_.domain = "Registry.Example.";
  options_.ttl = 30;
  Build();
  Response r = Ask("web.service.registry.example", 1);
  ASSERT_EQ(r.answer.size(), 3u);
  EXPECT_EQ(r.answer[0].ttl, 30u);
  r = Ask("web.service.registry.example", 33);
  ASSERT_FALSE(r.additional.empty());
  EXPECT_TRUE(r.additional[0].name.ends_with(".dc1.registry.example")) << r.additional[0].name;
  r = Ask("nosuch.service.registry.example", 1);
  ASSERT_EQ(r.authority.size(), 1u);
  EXPECT_EQ(r.authority[0].ttl, 30u);
  EXPECT_EQ(r.authority[0].data.substr(r.authority[0].data.rfind(' ')), " 30");
  EXPECT_EQ(Ask("web.service.consul", 1).rcode, 5);
}

TEST_F(AnswerTest, NodeAndAddrNames) {
  Response r = Ask("node1.node.consul", 1);
  EXPECT_EQ(Data(r.answer), (std::set<std::string>{"127.0.0.1"}));
  r = Ask("NODE1.node.dc1.consul", 1);
  EXPECT_EQ(r.answer.size(), 1u);
  EXPECT_EQ(Ask("node2.node.consul", 1).rcode, 3);
  r = Ask("node1.node.consul", 28);
  EXPECT_EQ(r.rcode, 0);
  EXPECT_TRUE(r.answer.empty());
  r = Ask("0a000001.addr.dc1.consul", 1);
  EXPECT_EQ(Data(r.answer), (std::set<std::string>{"10.0.0.1"}));
  r = Ask("20010db8000000000000000000000001.addr.consul", 28);
  EXPECT_EQ(Data(r.answer), (std::set<std::string>{"2001:db8::1"}));
  EXPECT_EQ(Ask("0a0000zz.addr.consul", 1).rcode, 3);
  EXPECT_EQ(Ask("0a00.addr.consul", 1).rcode, 3);
}

TEST_F(AnswerTest, Apex) {
  Response r = Ask("consul", 6);
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_EQ(r.answer[0].type, 6);
  r = Ask("consul", 2);
  ASSERT_EQ(r.answer.size(), 1u);
  EXPECT_EQ(r.answer[0].data, "ns.consul");
  EXPECT_EQ(Data(r.additional), (std::set<std::string>{"127.0.0.1"}));
  EXPECT_EQ(Data(Ask("ns.consul", 1).answer), (std::set<std::string>{"127.0.0.1"}));
  r = Ask("consul", 1);
  EXPECT_EQ(r.rcode, 0);
  EXPECT_TRUE(r.answer.empty());
}

TEST_F(AnswerTest, UdpOver512BytesIsTruncated) {
  for (int i = 0; i < 100; ++i) {
    catalog_.Add("big", "big-" + std::to_string(i), "10.2.0." + std::to_string(i), 80);
  }
  Response r = Ask("big.service.consul", 1);
  EXPECT_TRUE(r.tc());
  EXPECT_LE(last_size_, 512u);
  EXPECT_GT(r.answer.size(), 20u);
  EXPECT_LT(r.answer.size(), 100u);

  r = Ask("big.service.consul", 33);
  EXPECT_TRUE(r.tc());
  EXPECT_LE(last_size_, 512u);

  // TCP carries them all.
  r = Ask("big.service.consul", 1, {}, Transport::kTcp);
  EXPECT_FALSE(r.tc());
  EXPECT_EQ(r.answer.size(), 100u);
  r = Ask("big.service.consul", 33, {}, Transport::kTcp);
  EXPECT_EQ(r.answer.size(), 100u);
  EXPECT_EQ(r.additional.size(), 100u);
}

TEST_F(AnswerTest, EdnsBufferSizeIsHonoured) {
  for (int i = 0; i < 100; ++i) {
    catalog_.Add("big", "big-" + std::to_string(i), "10.2.0." + std::to_string(i), 80);
  }
  QueryOptions o;
  o.edns_size = 4096;
  Response r = Ask("big.service.consul", 1, o);
  EXPECT_FALSE(r.tc());
  EXPECT_EQ(r.answer.size(), 100u);
  ASSERT_NE(r.opt(), nullptr);
  EXPECT_EQ(r.opt()->rclass, 4096);
  o.edns_size = 1232;
  r = Ask("big.service.consul", 1, o);
  EXPECT_TRUE(r.tc());
  EXPECT_LE(last_size_, 1232u);
  EXPECT_GT(last_size_, 1100u);
  ASSERT_NE(r.opt(), nullptr);
  // More than we send over UDP: capped at max_udp_size.
  options_.max_udp_size = 1024;
  Build();
  o.edns_size = 65000;
  r = Ask("big.service.consul", 1, o);
  EXPECT_TRUE(r.tc());
  EXPECT_LE(last_size_, 1024u);
}

TEST_F(AnswerTest, EdnsVersionAboveZeroIsBadVers) {
  QueryOptions o;
  o.edns_size = 4096;
  o.edns_version = 1;
  Response r = Ask("web.service.consul", 1, o);
  EXPECT_EQ(r.rcode, 16);
  EXPECT_TRUE(r.answer.empty());
  ASSERT_NE(r.opt(), nullptr);
}

TEST_F(AnswerTest, MalformedQueries) {
  Bytes out(kMaxMessage);
  // Shorter than a header, or a response: no reply.
  EXPECT_EQ(answerer_->Answer(Bytes(5, 0), Transport::kUdp, catalog_, scratch_, out), 0u);
  Bytes response = MakeQuery("web.service.consul", 1);
  response[2] |= 0x80;
  EXPECT_EQ(answerer_->Answer(response, Transport::kUdp, catalog_, scratch_, out), 0u);
  // A cut question: FORMERR with the query's ID.
  Bytes cut = MakeQuery("web.service.consul", 1);
  cut.resize(20);
  Response r = Ask(cut);
  EXPECT_EQ(r.rcode, 1);
  EXPECT_EQ(r.id, 0x1234);
  // Another opcode: NOTIMP.
  Bytes notify = MakeQuery("web.service.consul", 1);
  notify[2] |= 4 << 3;
  EXPECT_EQ(Ask(notify).rcode, 4);
  // Class CHAOS: REFUSED.
  QueryOptions chaos;
  chaos.qclass = 3;
  EXPECT_EQ(Ask("web.service.consul", 1, chaos).rcode, 5);
}

TEST_F(AnswerTest, ResultsAreShuffledPerQuery) {
  for (int i = 0; i < 10; ++i) {
    catalog_.Add("many", "many-" + std::to_string(i), "10.3.0." + std::to_string(i), 80);
  }
  std::set<std::string> firsts;
  for (int i = 0; i < 50; ++i) firsts.insert(Ask("many.service.consul", 1).answer.at(0).data);
  EXPECT_GT(firsts.size(), 5u);
}

TEST_F(AnswerTest, CreateRejectsBadNames) {
  AnswerOptions o = options_;
  o.domain = "a..b";
  EXPECT_FALSE(Answerer::Create(o).ok());
  o = options_;
  o.datacenter = "dc.1";
  EXPECT_FALSE(Answerer::Create(o).ok());
  o = options_;
  o.node_address = "not-an-ip";
  EXPECT_FALSE(Answerer::Create(o).ok());
  o = options_;
  o.node_name = std::string(64, 'n');
  EXPECT_FALSE(Answerer::Create(o).ok());
}

}  // namespace
}  // namespace concierge::dns
