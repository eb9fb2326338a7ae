// `concierge lock PREFIX COMMAND...`: holds the lock PREFIX/.lock while COMMAND runs, as
// `consul lock` does; with -n N > 1, one of N places of Consul's semaphore on PREFIX. A session
// with a TTL is renewed by a thread of its own; another thread watches the lock with blocking
// queries and stops the command (SIGTERM) if it is lost; when the command exits, the lock is
// released and the session destroyed.
#include <rapidjson/document.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cli/answer.h"
#include "cli/kv.h"
#include "client/json.h"
#include "client/wire.h"
#include "core/time.h"
#include "tls/base64.h"

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

// What the command holds while it runs, read and changed through the agent.
class Hold {
 public:
  struct State {
    bool ok = false;    // the read was answered
    bool ours = false;  // held by our session
    bool free = false;  // another session could take it now
    std::string index = "0";
  };
  virtual ~Hold() = default;
  // One attempt to take it: true when held, false when it is not ours yet (then Read from
  // *index waits for a change), nullopt when the agent refused (printed).
  virtual std::optional<bool> Try(client::HttpClient& client, std::string* index) = 0;
  // The state after `index` (a blocking read of up to `wait` unless index is "0").
  virtual State Read(client::HttpClient& client, const std::string& index, milliseconds wait) = 0;
  virtual void Release(client::HttpClient& client) = 0;
};

std::string Blocking(std::string target, const std::string& index, milliseconds wait) {
  if (index == "0") return target;
  return target + (target.find('?') == std::string::npos ? "?" : "&") + "index=" + index +
         "&wait=" + std::to_string(wait.count()) + "ms";
}

// A 200 or 404 answer of a (blocking) read, and its index; nullopt for anything else.
std::optional<client::Response> ReadKv(client::HttpClient& client, const std::string& target,
                                       const std::string& index, milliseconds wait,
                                       std::string* new_index) {
  auto r = client.Get(Blocking(target, index, wait), wait + std::chrono::seconds(5));
  if (!r.ok() || (r->status != 200 && r->status != 404)) return std::nullopt;
  if (const std::string* i = r->Header("X-Consul-Index")) *new_index = *i;
  return std::move(*r);
}

// Consul's lock: the key PREFIX/.lock, acquired by the session.
class Lock : public Hold {
 public:
  Lock(const std::string& prefix, std::string session)
      : target_("/v1/kv/" + client::Encode(prefix + "/.lock", true)),
        session_(std::move(session)) {}

  std::optional<bool> Try(client::HttpClient& client, std::string*) override {
    auto r = client.Send(
        "PUT", target_ + "?acquire=" + session_ + "&flags=" + std::to_string(kLockFlagValue), {});
    if (!r.ok() || r->status != 200) {
      if (r.ok()) Refused(*r);
      if (!r.ok()) std::cerr << "Error: " << r.status().message() << "\n";
      return std::nullopt;
    }
    return r->body.starts_with("true");
  }

  State Read(client::HttpClient& client, const std::string& index, milliseconds wait) override {
    State s;
    auto r = ReadKv(client, target_, index, wait, &s.index);
    if (!r) return s;
    s.ok = true;
    std::string holder;
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(r->body.data(), r->body.size());
    if (r->status == 200 && !doc.HasParseError() && doc.IsArray() && doc.Size() == 1 &&
        doc[0].IsObject()) {
      holder = client::GetString(doc[0], "Session");
    }
    s.ours = holder == session_;
    s.free = holder.empty();
    return s;
  }

  void Release(client::HttpClient& client) override {
    client.Put(target_ + "?release=" + session_);
  }

 private:
  std::string target_;
  std::string session_;
};

// Consul's semaphore (-n N): each contender holds PREFIX/<session> with its session, and the
// key PREFIX/.lock says {"Limit": N, "Holders": {session: true, ...}}, changed only with CAS;
// holders whose contender key is gone (their session ended) no longer count.
class Semaphore : public Hold {
 public:
  Semaphore(const std::string& prefix, std::string session, int limit)
      : prefix_("/v1/kv/" + client::Encode(prefix + "/", true)),
        lock_(prefix_ + ".lock"),
        contender_(prefix_ + client::Encode(session, true)),
        session_(std::move(session)),
        limit_(limit) {}

  std::optional<bool> Try(client::HttpClient& client, std::string* index) override {
    if (!entered_) {
      auto r = client.Send("PUT", contender_ + "?acquire=" + session_ + "&flags=" + kFlags, {});
      if (!r.ok() || r->status != 200 || !r->body.starts_with("true")) {
        if (r.ok()) Refused(*r);
        if (!r.ok()) std::cerr << "Error: " << r.status().message() << "\n";
        return std::nullopt;
      }
      entered_ = true;
    }
    Seen seen = ReadAll(client, "0", milliseconds(0));
    if (!seen.state.ok) return false;
    if (seen.limit != 0 && seen.limit != limit_) {
      std::cerr << "Error: semaphore limit conflict (lock: " << seen.limit << ", local: " << limit_
                << ")\n";
      return std::nullopt;
    }
    if (seen.holders.contains(session_)) return true;
    *index = seen.state.index;
    if (seen.holders.size() >= static_cast<std::size_t>(limit_)) return false;
    seen.holders.insert(session_);
    auto r =
        client.Send("PUT", lock_ + "?cas=" + std::to_string(seen.lock_index) + "&flags=" + kFlags,
                    Encode(seen.holders));
    if (r.ok() && r->status == 200 && r->body.starts_with("true")) return true;
    *index = "0";  // someone else changed it first: look again at once
    return false;
  }

  State Read(client::HttpClient& client, const std::string& index, milliseconds wait) override {
    Seen seen = ReadAll(client, index, wait);
    seen.state.ours = seen.contender && seen.holders.contains(session_);
    seen.state.free = seen.holders.size() < static_cast<std::size_t>(limit_);
    return seen.state;
  }

  void Release(client::HttpClient& client) override {
    for (int attempt = 0; attempt < 5; ++attempt) {  // CAS races with other holders
      Seen seen = ReadAll(client, "0", milliseconds(0));
      if (!seen.state.ok || !seen.holders.erase(session_)) break;
      auto r = client.Put(lock_ + "?cas=" + std::to_string(seen.lock_index) + "&flags=" + kFlags,
                          Encode(seen.holders));
      if (r.ok() && r->status == 200 && r->body.starts_with("true")) break;
    }
    client.Send("DELETE", contender_, {});
  }

 private:
  // Consul's flag value on a semaphore's keys.
  static constexpr const char* kFlags = "16210313421097356768";  // 0xe0f69a2baa414de0

  struct Seen {
    State state;
    std::uint64_t lock_index = 0;  // the .lock key's ModifyIndex; 0: no such key
    std::int64_t limit = 0;
    std::set<std::string> holders;  // live ones: their contender key is held
    bool contender = false;         // ours is held by our session
  };

  Seen ReadAll(client::HttpClient& client, const std::string& index, milliseconds wait) {
    Seen seen;
    auto r = ReadKv(client, prefix_ + "?recurse", index, wait, &seen.state.index);
    if (!r) return seen;
    seen.state.ok = true;
    rapidjson::Document entries;
    entries.Parse<rapidjson::kParseIterativeFlag>(r->body.data(), r->body.size());
    if (r->status != 200 || entries.HasParseError() || !entries.IsArray()) return seen;
    std::set<std::string> live, listed;
    for (const auto& e : entries.GetArray()) {
      if (!e.IsObject()) continue;
      const std::string key = client::GetString(e, "Key"), holder = client::GetString(e, "Session");
      if (("/v1/kv/" + client::Encode(key, true)) == lock_) {
        seen.lock_index = client::GetUint64(e, "ModifyIndex");
        Decode(tls::Base64Decode(client::GetString(e, "Value")).value_or(""), &seen.limit, &listed);
      } else if (!holder.empty()) {
        live.insert(holder);
        if (holder == session_ && ("/v1/kv/" + client::Encode(key, true)) == contender_) {
          seen.contender = true;
        }
      }
    }
    for (const std::string& s : listed) {
      if (live.contains(s)) seen.holders.insert(s);
    }
    return seen;
  }

  static void Decode(const std::string& text, std::int64_t* limit, std::set<std::string>* out) {
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseIterativeFlag>(text.data(), text.size());
    if (doc.HasParseError() || !doc.IsObject()) return;
    const client::Json& l = client::GetMember(doc, "Limit");
    if (l.IsInt64()) *limit = l.GetInt64();
    const client::Json& holders = client::GetMember(doc, "Holders");
    if (!holders.IsObject()) return;
    for (const auto& m : holders.GetObject()) {
      if (m.value.IsTrue()) out->insert(m.name.GetString());
    }
  }

  std::string Encode(const std::set<std::string>& holders) const {
    std::string body = "{\"Limit\":" + std::to_string(limit_) + ",\"Holders\":{";
    for (const std::string& s : holders) {
      body += (body.back() == '{' ? "" : ",") + client::Quote(s) + ":true";
    }
    return body + "}}";
  }

  std::string prefix_, lock_, contender_, session_;
  int limit_;
  bool entered_ = false;
};

std::optional<std::string> CreateSession(client::HttpClient& client, const LockArgs& a) {
  std::string name = a.name.empty() ? "concierge lock " + a.prefix : a.name;
  std::string body = "{\"Name\":" + client::Quote(name) + ",\"TTL\":" + client::Quote(a.ttl) +
                     ",\"LockDelay\":" + client::Quote(a.lock_delay) + ",\"Behavior\":\"release\"}";
  int code = 0;
  auto doc = Call(client, "PUT", "/v1/session/create", body, &code);
  if (!doc || !client::GetMember(*doc, "ID").IsString()) return std::nullopt;
  return client::GetString(*doc, "ID");
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
  cmd->add_option("-n", a->limit,
                  "How many may hold it at once (above 1: Consul's semaphore on PREFIX)");
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
  if (a.limit < 1) {
    std::cerr << "Error! -n " << a.limit << ": expected at least 1\n";
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
  std::unique_ptr<Hold> hold;
  if (a.limit == 1) {
    hold = std::make_unique<Lock>(a.prefix, *session);
  } else {
    hold = std::make_unique<Semaphore>(a.prefix, *session, a.limit);
  }
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
    hold->Release(*control);
    control->Put("/v1/session/destroy/" + *session);
    return code;
  };

  // Take the lock: try, and when another session holds it, wait for it to change.
  const auto deadline =
      *timeout > core::Duration::zero() ? Clock::now() + *timeout : Clock::time_point::max();
  std::string index = "0";
  for (;;) {
    std::optional<bool> held = hold->Try(*control, &index);
    if (!held) return finish(1);
    if (*held) break;
    if (Clock::now() >= deadline) {
      std::cerr << "Shutdown triggered or timeout during lock acquisition\n";
      return finish(1);
    }
    if (index == "0") continue;  // changed under us: try again at once
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    Hold::State s = hold->Read(*control, index, std::min(left, milliseconds(60'000)));
    if (!s.ok) std::this_thread::sleep_for(milliseconds(200));
    // Taken: Try reads again after this change. Free (or in its lock delay): try again soon.
    if (s.free) std::this_thread::sleep_for(milliseconds(100));
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
      Hold::State s = hold->Read(*watcher, seen, milliseconds(30'000));
      if (done.load()) return;
      if (!s.ok) {
        std::this_thread::sleep_for(milliseconds(500));
        continue;
      }
      if (!s.ours) {
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
