// Building queries and reading responses in tests: a small decoder independent of the code
// under test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace concierge::dns::testing {

struct QueryOptions {
  std::uint16_t id = 0x1234;
  std::optional<std::uint16_t> edns_size;  // adds an OPT record
  std::uint8_t edns_version = 0;
  bool dnssec_ok = false;
  std::uint16_t qclass = 1;
};

// A query for `name` ("web.service.consul") and `type`.
std::vector<std::uint8_t> MakeQuery(std::string_view name, std::uint16_t type,
                                    const QueryOptions& options = {});

struct Record {
  std::string name;  // dotted, as sent (case kept), no trailing dot
  std::uint16_t type = 0;
  std::uint16_t rclass = 0;
  std::uint32_t ttl = 0;
  std::string data;  // A/AAAA: the address; CNAME/NS: the name; SRV: "prio weight port target";
                     // SOA: "mname rname serial refresh retry expire minimum"
};

struct Response {
  std::uint16_t id = 0;
  std::uint16_t flags = 0;
  std::uint16_t rcode = 0;  // with the extended bits of OPT
  std::string question;
  std::uint16_t qtype = 0;
  std::vector<Record> answer, authority, additional;
  bool tc() const { return flags & 0x0200; }
  bool aa() const { return flags & 0x0400; }
  const Record* opt() const;
};

// Decodes a response; nullopt if it is malformed.
std::optional<Response> Decode(const std::vector<std::uint8_t>& bytes);

}  // namespace concierge::dns::testing
