#include "dns/message.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dns_test_util.h"

namespace concierge::dns {
namespace {

using testing::MakeQuery;
using testing::QueryOptions;
using Bytes = std::vector<std::uint8_t>;

ParseStatus Parse(const Bytes& b, Query* q) { return ParseQuery(b, q); }

// A header: ID 0x0102, RD, and the four counts.
Bytes Header(std::uint16_t qd, std::uint16_t an = 0, std::uint16_t ns = 0, std::uint16_t ar = 0,
             std::uint16_t flags = 0x0100) {
  return {0x01,
          0x02,
          static_cast<std::uint8_t>(flags >> 8),
          static_cast<std::uint8_t>(flags),
          0,
          static_cast<std::uint8_t>(qd),
          static_cast<std::uint8_t>(an >> 8),
          static_cast<std::uint8_t>(an),
          static_cast<std::uint8_t>(ns >> 8),
          static_cast<std::uint8_t>(ns),
          static_cast<std::uint8_t>(ar >> 8),
          static_cast<std::uint8_t>(ar)};
}

Bytes Cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

const Bytes kWebTypeA = {3, 'w', 'e', 'b', 7,   's', 'e', 'r', 'v', 'i', 'c', 'e',
                         6, 'c', 'o', 'n', 's', 'u', 'l', 0,   0,   1,   0,   1};

TEST(NameTest, LabelAndNameLimits) {
  Name n;
  EXPECT_TRUE(n.AppendLabel(std::string(63, 'a')));
  EXPECT_FALSE(n.AppendLabel(std::string(64, 'a')));
  EXPECT_FALSE(n.AppendLabel(""));
  EXPECT_EQ(n.labels(), 1u);
  // 63+1 bytes per label: three more fit (4*64 = 256 > 254), the fourth does not.
  EXPECT_TRUE(n.AppendLabel(std::string(63, 'b')));
  EXPECT_TRUE(n.AppendLabel(std::string(63, 'c')));
  EXPECT_FALSE(n.AppendLabel(std::string(63, 'd')));
  EXPECT_TRUE(n.AppendLabel(std::string(61, 'd')));
  EXPECT_EQ(n.wire_size(), 255u);
  EXPECT_FALSE(n.AppendLabel("e"));
}

TEST(NameTest, TextAndComparisonIgnoreCase) {
  Name a, b;
  ASSERT_TRUE(a.SetText("Web.Service.CONSUL."));
  ASSERT_TRUE(b.SetText("web.service.consul"));
  EXPECT_TRUE(a == b);
  EXPECT_EQ(a.label(0), "Web");  // case kept
  Name domain;
  ASSERT_TRUE(domain.SetText("consul"));
  EXPECT_TRUE(a.EndsWith(domain));
  EXPECT_FALSE(domain.EndsWith(a));
  EXPECT_FALSE(a.SetText("a..b"));
  EXPECT_FALSE(a.SetText(""));
  EXPECT_TRUE(a.SetText("."));
  EXPECT_EQ(a.labels(), 0u);
}

TEST(ParseQueryTest, ReadsAQuery) {
  Query q;
  ASSERT_EQ(Parse(MakeQuery("Web.service.consul", 33), &q), ParseStatus::kOk);
  EXPECT_EQ(q.id, 0x1234);
  EXPECT_EQ(q.type, 33);
  EXPECT_EQ(q.qclass, 1);
  EXPECT_EQ(q.name.labels(), 3u);
  EXPECT_EQ(q.name.label(0), "Web");
  EXPECT_FALSE(q.edns.present);
}

TEST(ParseQueryTest, ReadsEdns) {
  Query q;
  QueryOptions o;
  o.edns_size = 4096;
  o.dnssec_ok = true;
  ASSERT_EQ(Parse(MakeQuery("web.service.consul", 1, o), &q), ParseStatus::kOk);
  EXPECT_TRUE(q.edns.present);
  EXPECT_EQ(q.edns.udp_size, 4096);
  EXPECT_TRUE(q.edns.dnssec_ok);
  EXPECT_EQ(q.edns.version, 0);
  // Sizes below 512 mean 512 (RFC 6891 6.2.5).
  o.edns_size = 100;
  o.edns_version = 1;
  ASSERT_EQ(Parse(MakeQuery("web.service.consul", 1, o), &q), ParseStatus::kOk);
  EXPECT_EQ(q.edns.udp_size, 512);
  EXPECT_EQ(q.edns.version, 1);
}

TEST(ParseQueryTest, DropsWhatIsNoQuery) {
  Query q;
  EXPECT_EQ(Parse({}, &q), ParseStatus::kDrop);
  EXPECT_EQ(Parse(Bytes(11, 0), &q), ParseStatus::kDrop);
  EXPECT_EQ(Parse(Cat(Header(1, 0, 0, 0, 0x8000), kWebTypeA), &q), ParseStatus::kDrop);
}

TEST(ParseQueryTest, OtherOpcodesAreNotImplemented) {
  Query q;
  EXPECT_EQ(Parse(Cat(Header(1, 0, 0, 0, 5 << 11), kWebTypeA), &q), ParseStatus::kNotImp);
  EXPECT_EQ(q.id, 0x0102);
}

TEST(ParseQueryTest, QuestionCountMustBeOne) {
  Query q;
  EXPECT_EQ(Parse(Header(0), &q), ParseStatus::kFormErr);
  EXPECT_EQ(Parse(Cat(Header(2), Cat(kWebTypeA, kWebTypeA)), &q), ParseStatus::kFormErr);
  EXPECT_EQ(q.id, 0x0102);
}

TEST(ParseQueryTest, TruncatedAnywhereIsFormErr) {
  Bytes full = Cat(Header(1), kWebTypeA);
  Query q;
  ASSERT_EQ(Parse(full, &q), ParseStatus::kOk);
  for (std::size_t n = kHeaderSize; n < full.size(); ++n) {
    Bytes cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    EXPECT_EQ(Parse(cut, &q), ParseStatus::kFormErr) << n;
  }
}

TEST(ParseQueryTest, CountsThatLie) {
  Query q;
  EXPECT_EQ(Parse(Cat(Header(1, 0, 0, 5), kWebTypeA), &q), ParseStatus::kFormErr);
  EXPECT_EQ(Parse(Cat(Header(1, 65535, 65535, 65535), kWebTypeA), &q), ParseStatus::kFormErr);
  // An OPT whose RDLENGTH runs past the end.
  Bytes opt = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 9};
  EXPECT_EQ(Parse(Cat(Cat(Header(1, 0, 0, 1), kWebTypeA), opt), &q), ParseStatus::kFormErr);
}

TEST(ParseQueryTest, OversizedLabelsAndNames) {
  Query q;
  // 0x40 and 0x80 are not lengths but (unsupported) label types.
  Bytes label64 = {64};
  label64.resize(1 + 64, 'a');
  label64.insert(label64.end(), {0, 0, 1, 0, 1});
  EXPECT_EQ(Parse(Cat(Header(1), label64), &q), ParseStatus::kFormErr);
  Bytes label128 = {0x80, 'a', 0, 0, 1, 0, 1};
  EXPECT_EQ(Parse(Cat(Header(1), label128), &q), ParseStatus::kFormErr);
  // 128 one-letter labels: 256 bytes, over the 255 limit.
  Bytes long_name;
  for (int i = 0; i < 128; ++i) long_name.insert(long_name.end(), {1, 'a'});
  long_name.insert(long_name.end(), {0, 0, 1, 0, 1});
  EXPECT_EQ(Parse(Cat(Header(1), long_name), &q), ParseStatus::kFormErr);
  // 127 labels (254 bytes + root) is the longest name.
  Bytes longest(long_name.begin() + 2, long_name.end());
  ASSERT_EQ(Parse(Cat(Header(1), longest), &q), ParseStatus::kOk);
  EXPECT_EQ(q.name.labels(), 127u);
}

TEST(ParseQueryTest, CompressionPointerLoopsAreRejected) {
  Query q;
  // A pointer to itself (offset 12).
  EXPECT_EQ(Parse(Cat(Header(1), {0xC0, 12, 0, 1, 0, 1}), &q), ParseStatus::kFormErr);
  // A label, then a pointer back to the name's own start.
  EXPECT_EQ(Parse(Cat(Header(1), {1, 'a', 0xC0, 12, 0, 1, 0, 1}), &q), ParseStatus::kFormErr);
  // A forward pointer.
  EXPECT_EQ(Parse(Cat(Header(1), {0xC0, 20, 0, 1, 0, 1, 0, 0, 1, 'a', 0}), &q),
            ParseStatus::kFormErr);
  // A pointer past the end, and a pointer cut in half.
  EXPECT_EQ(Parse(Cat(Header(1), {0xFF, 0xFF, 0, 1, 0, 1}), &q), ParseStatus::kFormErr);
  EXPECT_EQ(Parse(Cat(Header(1), {0xC0}), &q), ParseStatus::kFormErr);
  // Two records whose owners point at each other: the second points forward.
  Bytes loop = Cat(Header(1, 2), kWebTypeA);
  std::size_t first = loop.size();
  loop.insert(loop.end(),
              {0xC0, static_cast<std::uint8_t>(first + 12), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
  loop.insert(loop.end(), {0xC0, static_cast<std::uint8_t>(first), 0, 1, 0, 1, 0, 0, 0, 0, 0, 0});
  EXPECT_EQ(Parse(loop, &q), ParseStatus::kFormErr);
}

TEST(ParseQueryTest, SkipsRecordsWithValidBackwardPointers) {
  Query q;
  Bytes packet = Cat(Header(1, 1), kWebTypeA);
  // An answer record whose owner points at the question name.
  packet.insert(packet.end(), {0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 127, 0, 0, 1});
  EXPECT_EQ(Parse(packet, &q), ParseStatus::kOk);
}

TEST(ParseQueryTest, OptRules) {
  Query q;
  Bytes opt = {0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(Parse(Cat(Cat(Header(1, 0, 0, 1), kWebTypeA), opt), &q), ParseStatus::kOk);
  EXPECT_EQ(Parse(Cat(Cat(Cat(Header(1, 0, 0, 2), kWebTypeA), opt), opt), &q),
            ParseStatus::kFormErr);
  Bytes named_opt = {1, 'a', 0, 0, 41, 0x10, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(Parse(Cat(Cat(Header(1, 0, 0, 1), kWebTypeA), named_opt), &q), ParseStatus::kFormErr);
  // OPT in the answer section.
  EXPECT_EQ(Parse(Cat(Cat(Header(1, 1), kWebTypeA), opt), &q), ParseStatus::kFormErr);
}

TEST(WriterTest, CompressesAgainstTheQuestion) {
  Bytes out(512);
  Writer w(out, 512);
  Name q, target;
  ASSERT_TRUE(q.SetText("Web.service.consul"));
  ASSERT_TRUE(target.SetText("node1.node.dc1.consul"));
  ASSERT_TRUE(w.Question(q, 1, 1));
  Name lower;
  lower.SetText("web.service.consul");
  ASSERT_TRUE(w.AddNameRecord(Writer::Section::kAnswer, lower, 5, 0, target));
  out.resize(w.Finish(7, flag::kQr, Rcode::kNoError));
  // Question 24 bytes; owner is a 2-byte pointer; target "node1.node.dc1" + pointer to consul.
  EXPECT_EQ(out.size(), 12u + 24 + 2 + 10 + 6 + 5 + 4 + 2);
  auto res = testing::Decode(out);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->answer.size(), 1u);
  EXPECT_EQ(res->answer[0].name, "Web.service.consul");  // points at the question's case
  EXPECT_EQ(res->answer[0].data, "node1.node.dc1.consul");
}

TEST(WriterTest, RecordsThatDoNotFitAreLeftOut) {
  Bytes out(4096);
  Writer w(out, 60);
  Name q;
  q.SetText("web.service.consul");
  ASSERT_TRUE(w.Question(q, 1, 1));
  const std::uint8_t ip[4] = {10, 0, 0, 1};
  int added = 0;
  while (w.AddA(Writer::Section::kAnswer, q, 0, ip)) ++added;
  EXPECT_EQ(added, 1);  // 12 + 24 + 16 = 52; a second would need 68
  std::size_t size = w.size();
  EXPECT_FALSE(w.AddA(Writer::Section::kAnswer, q, 0, ip));
  EXPECT_EQ(w.size(), size);
  out.resize(w.Finish(1, flag::kQr, Rcode::kNoError));
  auto res = testing::Decode(out);
  ASSERT_TRUE(res);
  EXPECT_EQ(res->answer.size(), 1u);
}

TEST(WriterTest, ReservedRoomKeepsOptAlwaysPossible) {
  Bytes out(4096);
  Writer w(out, 512);
  w.Reserve(Writer::kOptSize);
  Name q;
  q.SetText("web.service.consul");
  ASSERT_TRUE(w.Question(q, 1, 1));
  const std::uint8_t ip[4] = {10, 0, 0, 1};
  while (w.AddA(Writer::Section::kAnswer, q, 0, ip)) {
  }
  EXPECT_TRUE(w.AddOpt(4096, Rcode::kBadVers, true));
  out.resize(w.Finish(1, flag::kQr, Rcode::kBadVers));
  EXPECT_LE(out.size(), 512u);
  auto res = testing::Decode(out);
  ASSERT_TRUE(res);
  ASSERT_NE(res->opt(), nullptr);
  EXPECT_EQ(res->rcode, 16);
  EXPECT_EQ(res->opt()->rclass, 4096);
}

}  // namespace
}  // namespace concierge::dns
