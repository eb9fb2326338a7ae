#include "cli/config_services.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>

namespace concierge::cli {

namespace {

// The registration's JSON with `address` as its Address (Consul matches keys without regard
// to case or underscores, so every spelling of the key is replaced).
std::string WithAddress(const std::string& json, const std::string& address) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) return json;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd();) {
    std::string name;
    for (char c : std::string_view(it->name.GetString(), it->name.GetStringLength())) {
      if (c != '_') name += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    it = name == "address" ? doc.EraseMember(it) : it + 1;
  }
  doc.AddMember("Address", rapidjson::Value(address.c_str(), doc.GetAllocator()),
                doc.GetAllocator());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  doc.Accept(w);
  return {buf.GetString(), buf.GetSize()};
}

}  // namespace

ConfigServices::ConfigServices(Send send, Registered registered, std::string default_address,
                               std::chrono::milliseconds retry)
    : send_(std::move(send)),
      registered_(std::move(registered)),
      default_address_(std::move(default_address)),
      retry_(retry),
      thread_([this] { Run(); }) {}

ConfigServices::~ConfigServices() { Stop(); }

void ConfigServices::Apply(const std::vector<ConfigService>& services) {
  std::vector<Change> changes;
  std::set<std::string> now;
  for (const ConfigService& s : services) {
    Change change{false, s.registration.service.id.str(), s.registration, s.json};
    if (change.registration.service.address.empty()) {
      change.registration.service.address = default_address_;
      change.json = WithAddress(s.json, default_address_);
    }
    now.insert(change.id);
    changes.push_back(std::move(change));
  }
  std::lock_guard lock(mu_);
  for (const std::string& id : owned_) {
    if (!now.contains(id)) changes.push_back({true, id, {}, {}});
  }
  owned_ = std::move(now);
  pending_ = std::move(changes);
  ++generation_;
  cv_.notify_all();
}

bool ConfigServices::WaitSent(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return pending_.empty() && !busy_; });
}

void ConfigServices::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void ConfigServices::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
    if (stopping_) return;
    Change change = std::move(pending_.front());
    pending_.erase(pending_.begin());
    busy_ = true;
    const std::uint64_t generation = generation_;
    lock.unlock();
    bool go_on = SendUntilDone(change, generation);
    lock.lock();
    busy_ = false;
    cv_.notify_all();
    if (!go_on) return;
  }
}

bool ConfigServices::SendUntilDone(const Change& change, std::uint64_t generation) {
  if (change.deregister && !registered_(change.id)) return true;
  bool told = false;
  while (true) {
    Status st = send_(change);
    if (st.ok()) {
      if (told)
        spdlog::info("config: service {} {}", change.id,
                     change.deregister ? "deregistered" : "registered");
      return true;
    }
    if (st.code() != Status::Code::kUnavailable) {
      spdlog::error("config: service {} not {}: {}", change.id,
                    change.deregister ? "deregistered" : "registered", st.message());
      return true;
    }
    if (!told) {
      spdlog::info("config: service {} waits: {}; retrying until it goes through", change.id,
                   st.message());
      told = true;
    }
    std::unique_lock lock(mu_);
    // A newer Apply replaces this change: its own list says what to do with this ID.
    auto replaced = [&] { return stopping_ || generation_ != generation; };
    if (cv_.wait_for(lock, retry_, replaced)) return !stopping_;
  }
}

}  // namespace concierge::cli
