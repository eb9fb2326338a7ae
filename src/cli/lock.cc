// `concierge lock PREFIX COMMAND...`: holds the lock PREFIX/.lock while COMMAND runs, as
// `consul lock` does. A session with a TTL is renewed by a thread of its own; another thread
// watches the lock key with blocking queries and stops the command (SIGTERM) if the lock is
// lost; when the command exits, the lock is released and the session destroyed.
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/answer.h"
#include "cli/kv.h"
#include "client/wire.h"
#include "core/time.h"
#include "http/consul_json.h"

namespace concierge::cli {

namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// Consul's flag value on a lock key, so that tools can tell a lock from data.
constexpr std::uint64_t kLockFlagValue = 0x2ddccbc058a50c18;

std::atomic<pid_t> g_child{0};

void Forward(int sig) {
  pid_t child = g_child.load();
  if (child > 0) kill(child, sig);
}

// The lock key's holder and index, from a (blocking) read; holder "" when free or gone.
struct LockState {
  bool ok = false;
  std::string holder;
  std::string index = "0";
};

LockState ReadLock(client::HttpClient& client, const std::string& target, const std::string& index,
                   milliseconds wait) {
  LockState s;
  std::string t = target;
  if (index != "0") {
    t += "?index=" + index + "&wait=" + std::to_string(wait.count()) + "ms";
  }
  auto r = client.Get(t, wait + std::chrono::seconds(5));
  if (!r.ok() || (r->status != 200 && r->status != 404)) return s;
  s.ok = true;
  if (const std::string* i = r->Header("X-Consul-Index")) s.index = *i;
  if (r->status == 404) return s;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseIterativeFlag>(r->body.data(), r->body.size());
  if (!doc.HasParseError() && doc.IsArray() && doc.Size() == 1 && doc[0].IsObject()) {
    auto it = doc[0].FindMember("Session");
    if (it != doc[0].MemberEnd() && it->value.IsString()) s.holder = it->value.GetString();
  }
  return s;
}

std::optional<std::string> CreateSession(client::HttpClient& client, const LockArgs& a) {
  std::string name = a.name.empty() ? "concierge lock " + a.prefix : a.name;
  std::string body =
      "{\"Name\":" + http::EncodeString(name) + ",\"TTL\":" + http::EncodeString(a.ttl) +
      ",\"LockDelay\":" + http::EncodeString(a.lock_delay) + ",\"Behavior\":\"release\"}";
  int code = 0;
  auto doc = Call(client, "PUT", "/v1/session/create", body, &code);
  if (!doc || !doc->IsObject() || !doc->HasMember("ID") || !(*doc)["ID"].IsString()) {
    return std::nullopt;
  }
  return std::string((*doc)["ID"].GetString());
}

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

CLI::App* AddLockCommand(CLI::App& app, LockArgs* a) {
  CLI::App* cmd = app.add_subcommand(
      "lock", "Run a command while holding a lock (PREFIX/.lock); a standby waits for it");
  cmd->add_option("prefix", a->prefix, "The KV prefix of the lock")->required();
  cmd->add_option("command", a->command, "The command (one argument: run by /bin/sh -c)")
      ->required();
  cmd->add_option("-n", a->limit, "How many may hold it at once (only 1 is supported)");
  cmd->add_option("--timeout", a->timeout, "Give up waiting after this long (0: never)");
  cmd->add_option("--ttl", a->ttl,
                  "The session's TTL: the lock is freed this long after a "
                  "holder dies (10s to 24h)");
  cmd->add_option("--lock-delay", a->lock_delay,
                  "After a holder's session ends, nobody may take the lock for this long");
  cmd->add_option("--name", a->name, "The session's name");
  cmd->positionals_at_end();
  return cmd;
}

int RunLock(const std::string& address, const client::HttpClientOptions& options,
            const LockArgs& a) {
  if (a.limit != 1) {
    std::cerr << "Error! -n " << a.limit << ": semaphores (-n > 1) are not supported yet\n";
    return 2;
  }
  auto ttl = core::ParseDuration(a.ttl);
  auto timeout = core::ParseDuration(a.timeout);
  if (!ttl.ok() || !timeout.ok() || *ttl <= core::Duration::zero()) {
    std::cerr << "Error! -ttl and -timeout take durations such as 15s\n";
    return 2;
  }
  auto open = [&]() { return client::HttpClient::Open(address, options); };
  auto control = open();
  auto renewer = open();
  auto watcher = open();
  if (!control.ok() || !renewer.ok() || !watcher.ok()) {
    std::cerr << "Error: " << control.status().message() << "\n";
    return 2;
  }
  std::optional<std::string> session = CreateSession(*control, a);
  if (!session) return 1;
  const std::string key_target = "/v1/kv/" + client::Encode(a.prefix + "/.lock", true);
  const milliseconds renew_every =
      std::chrono::duration_cast<milliseconds>(*ttl) / 3 + milliseconds(1);

  // Renewals, from now until the end.
  std::atomic<bool> done{false};
  std::atomic<bool> lost{false};
  std::thread renew([&] {
    while (!done.load()) {
      auto r = renewer->Put("/v1/session/renew/" + *session);
      if (r.ok() && r->status == 404) {
        lost = true;
        Forward(SIGTERM);
        return;
      }
      for (auto until = Clock::now() + renew_every; !done.load() && Clock::now() < until;) {
        std::this_thread::sleep_for(milliseconds(50));
      }
    }
  });
  auto finish = [&](int code) {
    done = true;
    renewer->Shutdown();
    watcher->Shutdown();
    renew.join();
    control->Put(key_target + "?release=" + *session);
    control->Put("/v1/session/destroy/" + *session);
    return code;
  };

  // Take the lock: try, and when another session holds it, wait for it to change.
  const auto deadline =
      *timeout > core::Duration::zero() ? Clock::now() + *timeout : Clock::time_point::max();
  std::string index = "0";
  for (;;) {
    auto r = control->Send(
        "PUT", key_target + "?acquire=" + *session + "&flags=" + std::to_string(kLockFlagValue),
        {});
    if (!r.ok() || r->status != 200) {
      if (r.ok()) Refused(*r);
      if (!r.ok()) std::cerr << "Error: " << r.status().message() << "\n";
      return finish(1);
    }
    if (r->body.starts_with("true")) break;
    if (Clock::now() >= deadline) {
      std::cerr << "Shutdown triggered or timeout during lock acquisition\n";
      return finish(1);
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    LockState s = ReadLock(*control, key_target, index, std::min(left, milliseconds(60'000)));
    if (!s.ok) std::this_thread::sleep_for(milliseconds(200));
    index = s.index;
    // Held: the next read waits for a change. Free (or in its lock delay): try again soon.
    if (s.holder.empty()) std::this_thread::sleep_for(milliseconds(100));
  }

  // Run the command while the lock is ours.
  pid_t child = fork();
  if (child < 0) {
    std::cerr << "Error: fork: " << std::strerror(errno) << "\n";
    return finish(1);
  }
  if (child == 0) {
    if (a.command.size() == 1) {
      execl("/bin/sh", "sh", "-c", a.command[0].c_str(), static_cast<char*>(nullptr));
    } else {
      std::vector<char*> argv;
      for (const std::string& s : a.command) argv.push_back(const_cast<char*>(s.c_str()));
      argv.push_back(nullptr);
      execvp(argv[0], argv.data());
    }
    std::cerr << "Error: cannot run " << a.command[0] << ": " << std::strerror(errno) << "\n";
    _exit(127);
  }
  g_child = child;
  struct sigaction forward {};
  forward.sa_handler = Forward;
  sigaction(SIGINT, &forward, nullptr);
  sigaction(SIGTERM, &forward, nullptr);
  sigaction(SIGHUP, &forward, nullptr);

  // Watch the lock: if another session has it, or the key went, stop the command.
  std::thread watch([&] {
    std::string seen = "0";
    while (!done.load()) {
      LockState s = ReadLock(*watcher, key_target, seen, milliseconds(30'000));
      if (done.load()) return;
      if (!s.ok) {
        std::this_thread::sleep_for(milliseconds(500));
        continue;
      }
      if (s.holder != *session) {
        lost = true;
        std::cerr << "Lock lost, killing child\n";
        Forward(SIGTERM);
        return;
      }
      seen = s.index;
    }
  });

  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  g_child = 0;
  int code = finish(ExitCode(status));
  watch.join();
  return lost.load() && code == 0 ? 1 : code;
}

}  // namespace concierge::cli
