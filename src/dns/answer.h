// Answers DNS queries from the catalog with Consul's names and semantics (docs/dns.md):
// query bytes and a read-only view of the catalog in, response bytes out. No I/O and no
// clock, so it is tested with a fake view and fuzzed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/model.h"
#include "core/status.h"
#include "dns/message.h"

namespace concierge::dns {

// What the answerer reads of the catalog. One view per thread; not shared.
class CatalogView {
 public:
  virtual ~CatalogView() = default;
  // The instances of the service whose name equals `name` ignoring ASCII case (`name` is
  // lower case); empty if there is none. Valid until the next call on this view.
  virtual std::span<const std::shared_ptr<const core::Instance>> Service(std::string_view name) = 0;
};

struct AnswerOptions {
  std::string domain = "consul.";
  std::string datacenter = "dc1";
  std::string node_name;
  std::string node_address;  // an IP address: the agent's node
  std::uint32_t ttl = 0;     // seconds; also the SOA minimum (negative caching)
  // Names outside the domain: REFUSED, or SERVFAIL when false (there is no recursor).
  bool refuse_outside = true;
  // The largest UDP reply sent to an EDNS0 client that offers at least this much.
  std::uint16_t max_udp_size = 4096;
};

enum class Transport { kUdp, kTcp };

// Per-thread working memory, reused from query to query so that answering does not allocate
// once it has grown.
struct Scratch {
  explicit Scratch(std::uint64_t seed = 0x9E3779B97F4A7C15ull) : rng(seed | 1) {}
  std::uint64_t Random();
  std::uint32_t serial = 1;  // the SOA serial; the server sets it from the clock
  std::uint64_t rng;
  std::vector<const core::Instance*> picked;

  // A set of addresses (family + bytes), so that each appears once per answer: open
  // addressing, emptied in O(1) by moving to the next generation.
  using AddressKey = std::array<std::uint8_t, 17>;
  void ClearSeen(std::size_t expected);
  bool FirstTime(const AddressKey& key);  // false if already in the set

 private:
  std::vector<AddressKey> seen_;
  std::vector<std::uint32_t> seen_generation_;
  std::uint32_t generation_ = 0;
};

class Answerer {
 public:
  // Checks the names and the node address; the error says which one is wrong.
  static Result<std::unique_ptr<Answerer>> Create(AnswerOptions options);

  // Writes the reply to `packet` into `out` and returns its size; 0 means send nothing.
  // `out` should hold kMaxMessage bytes for TCP and max_udp_size for UDP (replies are cut to
  // what it holds). UDP replies larger than the client allows are truncated with TC set.
  std::size_t Answer(std::span<const std::uint8_t> packet, Transport transport,
                     CatalogView& catalog, Scratch& scratch, std::span<std::uint8_t> out) const;

  const AnswerOptions& options() const { return options_; }

 private:
  struct Address {
    enum class Kind : std::uint8_t { kNone, kV4, kV6, kName } kind = Kind::kNone;
    std::uint8_t v4[4] = {};
    std::uint8_t v6[16] = {};
  };

  explicit Answerer(AnswerOptions options) : options_(std::move(options)) {}
  static Address ParseAddress(std::string_view text);
  Rcode Resolve(const Query& q, Writer& w, CatalogView& catalog, Scratch& scratch,
                std::uint16_t* flags) const;
  Rcode Negative(Writer& w, Rcode rcode, const Scratch& scratch) const;
  Rcode Apex(const Query& q, Writer& w, const Scratch& scratch) const;
  Rcode AddressRecords(const Query& q, Writer& w, const Address& address,
                       const Scratch& scratch) const;
  Rcode ServiceLookup(const Query& q, std::size_t parts, Writer& w, CatalogView& catalog,
                      Scratch& scratch, std::uint16_t* flags) const;
  // The SRV target of an instance at `address`: the node's name, an address-derived name,
  // or the host name itself. False if the host name is not a valid DNS name.
  bool Target(const Address& address, std::string_view text, Name* target) const;
  Address InstanceAddress(const core::Instance& inst) const;

  AnswerOptions options_;
  Name domain_;
  Name node_name_;
  Name node_target_;  // <node>.node.<dc>.<domain>
  Name addr_suffix_;  // addr.<dc>.<domain>
  Name ns_;           // ns.<domain>
  Name hostmaster_;   // hostmaster.<domain>
  Address node_address_;
};

}  // namespace concierge::dns
