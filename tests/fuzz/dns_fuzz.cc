// libFuzzer target: any bytes through the DNS query parser and the answerer, over UDP and TCP
// limits, against a small fake catalog. Also checks that every reply is within its limit and
// parses as a well-formed header.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dns/answer.h"
#include "dns/message.h"

namespace {

using namespace concierge;

class FuzzCatalog : public dns::CatalogView {
 public:
  FuzzCatalog() {
    Add("web", "10.0.0.1", 80, core::HealthStatus::kPassing, {"primary"});
    Add("web", "10.0.0.2", 81, core::HealthStatus::kPassing, {});
    Add("web", "127.0.0.1", 82, core::HealthStatus::kPassing, {"primary"});
    Add("web", "10.0.0.4", 83, core::HealthStatus::kCritical, {});
    Add("web", "2001:db8::1", 84, core::HealthStatus::kPassing, {});
    Add("api", "api.example.com", 443, core::HealthStatus::kPassing, {});
    Add("down", "10.0.1.1", 80, core::HealthStatus::kCritical, {});
    for (int i = 0; i < 60; ++i) {
      Add("big", "10.2.0." + std::to_string(i), 80, core::HealthStatus::kPassing, {"t"});
    }
  }

  std::span<const std::shared_ptr<const core::Instance>> Service(std::string_view name) override {
    auto it = services_.find(std::string(name));
    if (it == services_.end()) return {};
    return it->second;
  }

 private:
  void Add(const std::string& name, std::string address, std::uint16_t port,
           core::HealthStatus status, std::vector<std::string> tags) {
    auto inst = std::make_shared<core::Instance>();
    inst->service.name = name;
    inst->service.id = name + "-" + std::to_string(services_[name].size());
    inst->service.address = std::move(address);
    inst->service.port = port;
    inst->service.tags = core::TagList(tags.begin(), tags.end());
    core::Check check;
    check.status = status;
    inst->checks.push_back(check);
    services_[name].push_back(std::move(inst));
  }

  std::map<std::string, std::vector<std::shared_ptr<const core::Instance>>> services_;
};

const dns::Answerer& TheAnswerer() {
  static const std::unique_ptr<dns::Answerer> answerer = [] {
    dns::AnswerOptions options;
    options.node_name = "node1";
    options.node_address = "127.0.0.1";
    options.ttl = 5;
    auto a = dns::Answerer::Create(options);
    if (!a.ok()) std::abort();
    return std::move(*a);
  }();
  return *answerer;
}

void Check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static FuzzCatalog catalog;
  static dns::Scratch scratch(1);
  static std::vector<std::uint8_t> out(dns::kMaxMessage);
  std::span<const std::uint8_t> packet(data, size);

  dns::Query query;
  dns::ParseStatus status = dns::ParseQuery(packet, &query);

  for (auto transport : {dns::Transport::kUdp, dns::Transport::kTcp}) {
    std::size_t n = TheAnswerer().Answer(packet, transport, catalog, scratch, out);
    if (status == dns::ParseStatus::kDrop) {
      Check(n == 0);
      continue;
    }
    Check(n >= dns::kHeaderSize);
    if (transport == dns::Transport::kUdp) {
      std::size_t limit =
          query.edns.present ? std::max<std::size_t>(query.edns.udp_size, 512) : 512;
      Check(n <= std::min<std::size_t>(limit, 4096));
    }
    // The reply echoes the ID and is a response.
    Check((out[0] << 8 | out[1]) == (data[0] << 8 | data[1]));
    Check((out[2] & 0x80) != 0);
  }
  return 0;
}
