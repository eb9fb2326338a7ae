// The hotel's guest: finds the room service through the registry (a concierge::Watcher and
// a round-robin concierge::Balancer) and calls GET /room at a steady rate. A call that fails
// to connect ejects that instance locally and is retried on another one at once, so a room
// service that dies costs no failed request, only one retry.
//
//   guest -agent 127.0.0.1:8500 [-rate 50] [-seconds 8] [-min-instances 3]
//
// Prints one line per event, each starting with the wall-clock time in milliseconds:
//   <ms> ok <seq> <instance> attempts=<n> sent=<ms the call was made>
//   <ms> retry <seq> <instance> <error>
//   <ms> FAIL <seq> <error>
//   <ms> watch <id,id,...> stale=<0|1>
// and last "summary requests=<n> ok=<n> failed=<n> retries=<n>".
#include <chrono>
#include <iostream>
#include <mutex>
#include <string>
#include <thread>

#include "client/http_client.h"
#include "concierge/balancer.h"
#include "concierge/client.h"
#include "concierge/watcher.h"

namespace {

using namespace std::chrono_literals;

std::string Flag(int argc, char** argv, const std::string& name, const std::string& otherwise) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "-" + name || argv[i] == "--" + name) return argv[i + 1];
  }
  return otherwise;
}

long long NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::mutex print_mutex;
void Print(const std::string& line) {
  std::lock_guard lock(print_mutex);
  std::cout << NowMs() << " " << line << std::endl;
}

// GET http://<endpoint>/room; the instance's answer, or why there was none.
concierge::Result<std::string> CallRoom(const std::string& endpoint) {
  concierge::client::HttpClientOptions options;
  options.connect_timeout = 500ms;
  options.read_timeout = 1s;
  auto http = concierge::client::HttpClient::Open(endpoint, options);
  if (!http.ok()) return http.status();
  auto response = http->Get("/room");
  if (!response.ok()) return response.status();
  if (response->status != 200) {
    return concierge::Status::Unavailable("answered " + std::to_string(response->status));
  }
  std::string body = response->body;
  while (!body.empty() && body.back() == '\n') body.pop_back();
  return body;
}

}  // namespace

int main(int argc, char** argv) {
  std::string agent = Flag(argc, argv, "agent", "127.0.0.1:8500");
  int rate = std::stoi(Flag(argc, argv, "rate", "50"));
  int seconds = std::stoi(Flag(argc, argv, "seconds", "8"));
  std::size_t min_instances = std::stoul(Flag(argc, argv, "min-instances", "1"));
  constexpr int kAttempts = 3;

  auto client = concierge::Client::Open({.addresses = {agent}});
  if (!client.ok()) {
    std::cerr << client.status().message() << "\n";
    return 2;
  }
  concierge::Watcher rooms(
      **client, "room-service",
      {.wait = 30s, .on_change = [](const concierge::ServiceSnapshot& s) {
         std::string ids;
         for (const auto& i : s.instances) ids += (ids.empty() ? "" : ",") + i.id;
         Print("watch " + (ids.empty() ? "-" : ids) + " stale=" + (s.stale ? "1" : "0"));
       }});
  rooms.Start();
  // Waits (bounded) until the expected instances are registered and passing.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  for (auto s = rooms.snapshot(); s->instances.size() < min_instances;
       s = rooms.WaitForChange(s->version, 1s)) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::cerr << "only " << s->instances.size() << " room-service instances after 10s\n";
      return 1;
    }
  }

  concierge::Balancer balancer(&rooms, {.policy = concierge::Policy::kRoundRobin});
  long requests = 0, ok = 0, failed = 0, retries = 0;
  auto period = std::chrono::microseconds(1000000 / rate);
  auto next = std::chrono::steady_clock::now();
  auto end = next + std::chrono::seconds(seconds);
  while (next < end) {
    ++requests;
    std::string error = "no instance";
    bool done = false;
    for (int attempt = 1; attempt <= kAttempts && !done; ++attempt) {
      std::optional<concierge::Balancer::Lease> lease = balancer.Pick();
      if (!lease) break;
      long long sent = NowMs();
      concierge::Result<std::string> answer = CallRoom(lease->instance().Endpoint());
      if (answer.ok()) {
        lease->Success();
        Print("ok " + std::to_string(requests) + " " + *answer +
              " attempts=" + std::to_string(attempt) + " sent=" + std::to_string(sent));
        done = true;
      } else {
        lease->Failure();
        error = answer.status().message();
        ++retries;
        Print("retry " + std::to_string(requests) + " " + lease->instance().id + " " + error);
      }
    }
    if (done) {
      ++ok;
    } else {
      ++failed;
      Print("FAIL " + std::to_string(requests) + " " + error);
    }
    next += period;
    std::this_thread::sleep_until(next);
  }
  rooms.Stop();
  Print("summary requests=" + std::to_string(requests) + " ok=" + std::to_string(ok) +
        " failed=" + std::to_string(failed) + " retries=" + std::to_string(retries));
  return failed == 0 ? 0 : 1;
}
