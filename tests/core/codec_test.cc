#include "core/codec.h"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <string>
#include <vector>

namespace concierge::core {
namespace {

using namespace std::chrono_literals;

RegisterService FullRegister() {
  RegisterService r;
  r.service.id = "web-1";
  r.service.name = "web";
  r.service.tags = {"v1", "primary", std::string("bin\0ary", 7)};
  r.service.address = "10.1.2.3";
  r.service.port = 65535;
  r.service.meta = {{"env", "prod"}, {"zone", std::string(300, 'z')}};
  r.service.weights = {std::numeric_limits<std::int32_t>::max(), 0};
  r.service.enable_tag_override = true;
  CheckDefinition a;
  a.id = "service:web-1";
  a.name = "TTL check";
  a.notes = "send a heartbeat every 5s";
  a.ttl = 15s;
  a.deregister_critical_after = 90min;
  a.initial_status = HealthStatus::kWarning;
  a.initial_output = "booting";
  CheckDefinition b = a;
  b.id = "service:web-1:2";
  b.ttl = 1ns;
  b.deregister_critical_after = -1ns;
  b.initial_status = HealthStatus::kCritical;
  CheckDefinition http = a;
  http.id = "service:web-1:3";
  http.ttl = Duration::zero();
  http.kind = CheckKind::kHttp;
  ActiveCheck settings;
  settings.target = "http://10.1.2.3:8080/health?deep=1";
  settings.method = "POST";
  settings.headers = {{"Authorization", "Bearer x"}, {"X-A", "1"}, {"X-A", "2"}};
  settings.body = "{\"probe\": true}";
  settings.interval = 10s;
  settings.timeout = 2s;
  settings.success_before_passing = 3;
  settings.failures_before_critical = 1000;
  http.active = SharedConst<ActiveCheck>(settings);
  CheckDefinition tcp = a;
  tcp.id = "service:web-1:4";
  tcp.ttl = Duration::zero();
  tcp.kind = CheckKind::kTcp;
  ActiveCheck tcp_settings;
  tcp_settings.target = "[::1]:5432";
  tcp_settings.interval = 100ms;
  tcp_settings.timeout = 1s;
  tcp.active = SharedConst<ActiveCheck>(tcp_settings);
  // The kinds after TCP, with the fields only they have.
  CheckDefinition script = tcp;
  script.id = "service:web-1:5";
  script.kind = CheckKind::kScript;
  ActiveCheck script_settings = tcp_settings;
  script_settings.target.clear();
  script_settings.args = {"/usr/lib/check", "--deep", ""};
  script.active = SharedConst<ActiveCheck>(script_settings);
  CheckDefinition grpc = tcp;
  grpc.id = "service:web-1:6";
  grpc.kind = CheckKind::kGrpc;
  ActiveCheck grpc_settings = tcp_settings;
  grpc_settings.target = "10.0.0.1:50051/my.Service";
  grpc_settings.use_tls = true;
  grpc_settings.tls_skip_verify = true;
  grpc.active = SharedConst<ActiveCheck>(grpc_settings);
  CheckDefinition alias = tcp;
  alias.id = "service:web-1:7";
  alias.kind = CheckKind::kAlias;
  ActiveCheck alias_settings;
  alias_settings.target = "db-1";
  alias_settings.alias_node = "node-a";
  alias.active = SharedConst<ActiveCheck>(alias_settings);
  r.checks = {a, b, http, tcp, script, grpc, alias};
  r.at = Time(std::chrono::nanoseconds(1'700'000'000'123'456'789));
  return r;
}

std::vector<Command> AllCommands() {
  return {
      FullRegister(),
      RegisterService{},
      DeregisterService{"web-1", Time(-5s)},
      UpdateCheck{"service:web-1", HealthStatus::kCritical, "TTL expired\nno heartbeat",
                  Time(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::max()))},
      UpdateCheck{"c", HealthStatus::kWarning, "",
                  Time(std::chrono::nanoseconds(std::numeric_limits<std::int64_t>::min()))},
      UpdateCheck{"service:web-1:3", HealthStatus::kPassing, "HTTP GET ...: 200 OK", Time(8s),
                  CheckCause::kActiveCheck},
      ReapService{"web-2", Time(123s)},
      RestoreSnapshot{std::string("CONCIERGE\0snapshot", 18), Time(7s)},
      SetMaintenance{"web-1", true, "deploying v2", Time(9s)},
      SetMaintenance{"", false, "", Time(10s)},
      LeaderElected{Time(11s)},
      ChecksHeard{{"service:web-1", "c", std::string("a\0b", 3)}, Time(12s)},
      ChecksHeard{{}, Time(13s)},
      RestoreSnapshot{"part of a large snapshot", Time(14s), 2, 5},
  };
}

TEST(CodecTest, EveryCommandRoundTrips) {
  for (const Command& command : AllCommands()) {
    std::string bytes = EncodeCommand(command);
    ASSERT_GE(bytes.size(), 2u);
    EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]), kCommandFormatVersion);
    auto decoded = DecodeCommand(bytes);
    ASSERT_TRUE(decoded.ok()) << decoded.status().message();
    EXPECT_EQ(decoded.value(), command) << "command index " << command.index();
  }
}

TEST(CodecTest, TypeBytesAreStable) {
  // The type byte is part of the log format; changing it breaks rolling upgrades.
  const std::vector<Command> commands = AllCommands();
  EXPECT_EQ(EncodeCommand(commands[1])[1], 1);
  EXPECT_EQ(EncodeCommand(commands[2])[1], 2);
  EXPECT_EQ(EncodeCommand(commands[3])[1], 3);
  EXPECT_EQ(EncodeCommand(commands[6])[1], 4);
  EXPECT_EQ(EncodeCommand(commands[7])[1], 5);
  EXPECT_EQ(EncodeCommand(commands[8])[1], 6);
  EXPECT_EQ(EncodeCommand(commands[10])[1], 7);
  EXPECT_EQ(EncodeCommand(commands[11])[1], 8);
}

TEST(CodecTest, RejectsChecksHeardCountBeyondTheInput) {
  std::string bytes = EncodeCommand(ChecksHeard{{}, Time(1s)});
  bytes[2] = 100;  // the count: 100 IDs in a few bytes
  auto r = DecodeCommand(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "command: truncated or malformed");
}

TEST(CodecTest, RejectsEmptyInput) {
  auto r = DecodeCommand("");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "command: empty");
}

TEST(CodecTest, RejectsUnknownVersion) {
  for (std::uint8_t version : {0, 3, 255}) {
    std::string bytes = EncodeCommand(ReapService{"x", Time(1s)});
    bytes[0] = static_cast<char>(version);
    auto r = DecodeCommand(bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "command: unknown format version " + std::to_string(version));
  }
}

// What a version 1 server wrote: check definitions without a kind, updates without a cause.
TEST(CodecTest, ReadsVersionOneCommands) {
  Encoder e;
  e.U8(1);
  e.U8(3);  // UpdateCheck
  e.Bytes("c");
  e.U8(static_cast<std::uint8_t>(HealthStatus::kCritical));
  e.Bytes("TTL expired");
  PutTime(e, Time(5s));
  auto update = DecodeCommand(e.Take());
  ASSERT_TRUE(update.ok()) << update.status().message();
  EXPECT_EQ(
      std::get<UpdateCheck>(*update),
      (UpdateCheck{"c", HealthStatus::kCritical, "TTL expired", Time(5s), CheckCause::kUpdate}));

  Encoder r;
  r.U8(1);
  r.U8(1);  // RegisterService
  ServiceDefinition web;
  web.id = "web-1";
  web.name = "web";
  web.address = "10.0.0.1";
  web.port = 80;
  PutService(r, web);
  r.Varint(1);
  r.Bytes("service:web-1");
  r.Bytes("");
  r.Bytes("");
  r.Signed(Duration(10s).count());
  r.Signed(0);
  r.U8(static_cast<std::uint8_t>(HealthStatus::kCritical));
  r.Bytes("");
  PutTime(r, Time(6s));
  auto reg = DecodeCommand(r.Take());
  ASSERT_TRUE(reg.ok()) << reg.status().message();
  const CheckDefinition& check = std::get<RegisterService>(*reg).checks.at(0);
  EXPECT_EQ(check.kind, CheckKind::kTtl);
  EXPECT_EQ(check.ttl, 10s);
}

TEST(CodecTest, RejectsUnknownType) {
  for (std::uint8_t type : {0, 18, 255}) {
    std::string bytes = EncodeCommand(ReapService{"x", Time(1s)});
    bytes[1] = static_cast<char>(type);
    auto r = DecodeCommand(bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "command: unknown type " + std::to_string(type));
  }
}

TEST(CodecTest, RejectsTruncationAtEveryOffset) {
  for (const Command& command : AllCommands()) {
    std::string bytes = EncodeCommand(command);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
      auto r = DecodeCommand(std::string_view(bytes).substr(0, n));
      EXPECT_FALSE(r.ok()) << "command " << command.index() << " cut at " << n << " of "
                           << bytes.size();
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), Status::Code::kInvalidArgument);
      }
    }
  }
}

TEST(CodecTest, RejectsTrailingBytes) {
  for (const Command& command : AllCommands()) {
    std::string bytes = EncodeCommand(command) + '\0';
    auto r = DecodeCommand(bytes);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "command: trailing bytes");
  }
}

// A register command whose encoding is written by hand up to the field under test.
Encoder RegisterPrefix() {
  Encoder e;
  e.U8(kCommandFormatVersion);
  e.U8(1);
  e.Bytes("web-1");
  e.Bytes("web");
  return e;
}

void ExpectMalformed(Encoder e) {
  auto r = DecodeCommand(e.Take());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "command: truncated or malformed");
}

TEST(CodecTest, RejectsOversizedTagCount) {
  Encoder e = RegisterPrefix();
  e.Varint(Limits::kMaxTags + 1);
  for (std::size_t i = 0; i <= Limits::kMaxTags; ++i) e.Bytes("t");
  ExpectMalformed(std::move(e));
}

TEST(CodecTest, RejectsHugeTagCount) {
  Encoder e = RegisterPrefix();
  e.Varint(std::numeric_limits<std::uint64_t>::max());
  ExpectMalformed(std::move(e));
}

// Writes an otherwise valid register command up to (not including) the meta count.
Encoder RegisterUpToMeta() {
  Encoder e = RegisterPrefix();
  e.Varint(0);  // tags
  e.Bytes("10.0.0.1");
  e.Varint(80);
  return e;
}

TEST(CodecTest, RejectsOversizedMetaCount) {
  Encoder e = RegisterUpToMeta();
  e.Varint(Limits::kMaxMetaPairs + 1);
  for (std::size_t i = 0; i <= Limits::kMaxMetaPairs; ++i) {
    e.Bytes("k");
    e.Bytes("v");
  }
  ExpectMalformed(std::move(e));
}

TEST(CodecTest, RejectsOversizedCheckCount) {
  Encoder e = RegisterUpToMeta();
  e.Varint(0);  // meta
  e.Signed(1);
  e.Signed(1);
  e.U8(0);
  e.Varint(Limits::kMaxChecksPerService + 1);
  ExpectMalformed(std::move(e));
}

TEST(CodecTest, RejectsStringLongerThanInput) {
  Encoder e;
  e.U8(kCommandFormatVersion);
  e.U8(2);
  e.Varint(1000);
  e.Bytes("short");
  ExpectMalformed(std::move(e));
}

TEST(CodecTest, RejectsOutOfRangeFields) {
  {
    Encoder e = RegisterPrefix();
    e.Varint(0);
    e.Bytes("10.0.0.1");
    e.Varint(65536);  // port
    ExpectMalformed(std::move(e));
  }
  {
    Encoder e = RegisterUpToMeta();
    e.Varint(0);
    e.Signed(std::int64_t{std::numeric_limits<std::int32_t>::max()} + 1);  // weights.passing
    e.Signed(1);
    e.U8(0);
    e.Varint(0);
    e.Signed(0);
    ExpectMalformed(std::move(e));
  }
  {
    Encoder e = RegisterUpToMeta();
    e.Varint(0);
    e.Signed(1);
    e.Signed(1);
    e.U8(2);  // enable_tag_override is 0 or 1
    e.Varint(0);
    e.Signed(0);
    ExpectMalformed(std::move(e));
  }
  {
    Encoder e;
    e.U8(kCommandFormatVersion);
    e.U8(3);
    e.Bytes("c1");
    e.U8(3);  // no such HealthStatus
    e.Bytes("");
    e.Signed(0);
    ExpectMalformed(std::move(e));
  }
}

TEST(CodecTest, RejectsOverlongVarint) {
  Encoder e;
  e.U8(kCommandFormatVersion);
  e.U8(2);
  e.Bytes("x");
  std::string bytes = e.Take() + std::string(10, '\xff') + '\x01';
  EXPECT_FALSE(DecodeCommand(bytes).ok());
  // The tenth byte of a 64-bit varint may only carry one bit.
  const std::string overlong = std::string(9, '\xff') + '\x02';
  Decoder d(overlong);
  std::uint64_t v = 0;
  EXPECT_FALSE(d.Varint(&v));
}

TEST(CodecTest, VarintAndSignedRoundTripExtremes) {
  const std::vector<std::uint64_t> unsigned_values = {
      0, 1, 127, 128, 16383, 16384, std::numeric_limits<std::uint64_t>::max()};
  const std::vector<std::int64_t> signed_values = {0,
                                                   1,
                                                   -1,
                                                   63,
                                                   -64,
                                                   64,
                                                   std::numeric_limits<std::int64_t>::max(),
                                                   std::numeric_limits<std::int64_t>::min()};
  Encoder e;
  for (std::uint64_t v : unsigned_values) e.Varint(v);
  for (std::int64_t v : signed_values) e.Signed(v);
  std::string bytes = e.Take();
  Decoder d(bytes);
  for (std::uint64_t want : unsigned_values) {
    std::uint64_t got = 0;
    ASSERT_TRUE(d.Varint(&got));
    EXPECT_EQ(got, want);
  }
  for (std::int64_t want : signed_values) {
    std::int64_t got = 0;
    ASSERT_TRUE(d.Signed(&got));
    EXPECT_EQ(got, want);
  }
  EXPECT_TRUE(d.done());
}

TEST(CodecTest, SmallSignedValuesAreOneByte) {
  Encoder e;
  e.Signed(-1);
  e.Signed(63);
  EXPECT_EQ(e.Take().size(), 2u);
}

}  // namespace
}  // namespace concierge::core
