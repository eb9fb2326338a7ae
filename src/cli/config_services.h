// The services of the agent's config files (docs/configuration.md, "services"): registered by
// the agent itself, and deregistered when a reload drops them from the files.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/agent_config.h"
#include "core/status.h"

namespace concierge::cli {

class ConfigServices {
 public:
  // One change to send: a registration (its JSON as in the file, Address filled in) or a
  // deregistration (the ID).
  struct Change {
    bool deregister = false;
    std::string id;
    core::RegisterService registration;  // when registering
    std::string json;                    // when registering
  };
  // Sends one change and says how it went. Unavailable (no leader yet, an election, a leader
  // that cannot be reached) is retried every `retry` until it goes through or Stop; any other
  // error is logged and the change dropped.
  using Send = std::function<Status(const Change&)>;
  // Whether the catalog holds an instance with this ID (to skip deregistering one that is
  // gone already).
  using Registered = std::function<bool(const std::string& id)>;

  ConfigServices(Send send, Registered registered, std::string default_address,
                 std::chrono::milliseconds retry = std::chrono::milliseconds(200));
  ~ConfigServices();
  ConfigServices(const ConfigServices&) = delete;
  ConfigServices& operator=(const ConfigServices&) = delete;

  // Makes `services` the agent's config services: registers each (again: a changed
  // definition replaces the old) and deregisters those of the last Apply that are not in it.
  // Returns at once; a thread sends the changes in order, replacing what an earlier Apply
  // had not sent yet.
  void Apply(const std::vector<ConfigService>& services);
  // Waits until every change of the last Apply was sent (or dropped), at most `timeout`.
  // True if done.
  bool WaitSent(std::chrono::milliseconds timeout);
  // Stops retrying and joins the thread (a change being sent is finished first).
  void Stop();

 private:
  void Run();
  // Sends `change` (of the Apply numbered `generation`) until it goes through, is refused, a
  // newer Apply replaces it, or Stop. False on Stop.
  bool SendUntilDone(const Change& change, std::uint64_t generation);

  Send send_;
  Registered registered_;
  std::string default_address_;
  std::chrono::milliseconds retry_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Change> pending_;
  std::uint64_t generation_ = 0;  // of the last Apply
  bool busy_ = false;
  bool stopping_ = false;
  std::set<std::string> owned_;  // the IDs of the last Apply
  std::thread thread_;
};

}  // namespace concierge::cli
