// `concierge lock PREFIX COMMAND...`: holds the lock PREFIX/.lock while COMMAND runs, as
// `consul lock` does; with -n N > 1, one of N places of Consul's semaphore on PREFIX. A session
// with a TTL is renewed by a thread of its own; another thread watches the lock with blocking
// queries and stops the command (SIGTERM) if it is lost; when the command exits, the lock is
// released and the session destroyed.
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

#include "cli/kv.h"
#include "client/json.h"
#include "client/kv_api.h"
#include "core/time.h"

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
    std::uint64_t index = 0;
  };
  virtual ~Hold() = default;
  // One attempt to take it: true when held, false when it is not ours yet (then Read from
  // *index waits for a change), nullopt when the agent refused (printed).
  virtual std::optional<bool> Try(client::HttpClient& http, std::uint64_t* index) = 0;
  // The state after `index` (a blocking read of up to `wait` unless index is 0).
  virtual State Read(client::HttpClient& http, std::uint64_t index, milliseconds wait) = 0;
  virtual void Release(client::HttpClient& http) = 0;
};

// The answer of an attempt to take a key: nullopt (printed) when the agent refused.
std::optional<bool> Taken(const Result<bool>& put) {
  if (put.ok()) return *put;
  std::cerr << "Error: " << put.status().message() << "\n";
  return std::nullopt;
}

// Consul's lock: the key PREFIX/.lock, acquired by the session.
class Lock : public Hold {
 public:
  Lock(const std::string& prefix, std::string session)
      : key_(prefix + "/.lock"), session_(std::move(session)) {}

  std::optional<bool> Try(client::HttpClient& http, std::uint64_t* index) override {
    std::optional<bool> taken =
        Taken(client::KvPut(http, key_, {}, {.flags = kLockFlagValue, .acquire = session_}));
    if (taken && !*taken) {
      // Held by another session: wait for the key to change. Free but refused (its lock
      // delay, or released meanwhile): 0, try again shortly.
      State s = Read(http, 0, milliseconds(0));
      *index = s.ok && !s.free ? s.index : 0;
    }
    return taken;
  }

  State Read(client::HttpClient& http, std::uint64_t index, milliseconds wait) override {
    State s;
    Result<client::KvRead> read = client::KvGet(http, key_, {.index = index, .wait = wait});
    if (!read.ok()) return s;
    s.ok = true;
    s.index = read->index;
    std::string holder = read->entries.size() == 1 ? read->entries[0].session : "";
    s.ours = holder == session_;
    s.free = holder.empty();
    return s;
  }

  void Release(client::HttpClient& http) override {
    client::KvPut(http, key_, {}, {.release = session_});
  }

 private:
  std::string key_;
  std::string session_;
};

// Consul's semaphore (-n N): each contender holds PREFIX/<session> with its session, and the
// key PREFIX/.lock says {"Limit": N, "Holders": {session: true, ...}}, changed only with CAS;
// holders whose contender key is gone (their session ended) no longer count.
class Semaphore : public Hold {
 public:
  Semaphore(const std::string& prefix, std::string session, int limit)
      : prefix_(prefix + "/"),
        lock_(prefix_ + ".lock"),
        contender_(prefix_ + session),
        session_(std::move(session)),
        limit_(limit) {}

  std::optional<bool> Try(client::HttpClient& http, std::uint64_t* index) override {
    if (!entered_) {
      std::optional<bool> entered =
          Taken(client::KvPut(http, contender_, {}, {.flags = kFlags, .acquire = session_}));
      if (!entered || !*entered) return std::nullopt;
      entered_ = true;
    }
    Seen seen = ReadAll(http, 0, milliseconds(0));
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
    if (WriteHolders(http, seen)) return true;
    *index = 0;  // someone else changed it first: look again at once
    return false;
  }

  State Read(client::HttpClient& http, std::uint64_t index, milliseconds wait) override {
    Seen seen = ReadAll(http, index, wait);
    seen.state.ours = seen.contender && seen.holders.contains(session_);
    seen.state.free = seen.holders.size() < static_cast<std::size_t>(limit_);
    return seen.state;
  }

  void Release(client::HttpClient& http) override {
    for (int attempt = 0; attempt < 5; ++attempt) {  // CAS races with other holders
      Seen seen = ReadAll(http, 0, milliseconds(0));
      if (!seen.state.ok || !seen.holders.erase(session_)) break;
      if (WriteHolders(http, seen)) break;
    }
    client::KvDelete(http, contender_, false);
  }

 private:
  // Consul's flag value on a semaphore's keys.
  static constexpr std::uint64_t kFlags = 0xe0f69a2baa414de0;

  struct Seen {
    State state;
    std::uint64_t lock_index = 0;  // the .lock key's ModifyIndex; 0: no such key
    std::int64_t limit = 0;
    std::set<std::string> holders;  // live ones: their contender key is held
    bool contender = false;         // ours is held by our session
  };

  Seen ReadAll(client::HttpClient& http, std::uint64_t index, milliseconds wait) {
    Seen seen;
    Result<client::KvRead> read =
        client::KvGet(http, prefix_, {.recurse = true, .index = index, .wait = wait});
    if (!read.ok()) return seen;
    seen.state.ok = true;
    seen.state.index = read->index;
    std::set<std::string> live, listed;
    for (const client::KvEntry& e : read->entries) {
      if (e.key == lock_) {
        seen.lock_index = e.modify_index;
        Decode(e.value, &seen.limit, &listed);
      } else if (!e.session.empty()) {
        live.insert(e.session);
        if (e.session == session_ && e.key == contender_) seen.contender = true;
      }
    }
    for (const std::string& s : listed) {
      if (live.contains(s)) seen.holders.insert(s);
    }
    return seen;
  }

  // The holders in `seen`, written with CAS on the .lock key as `seen` read it.
  bool WriteHolders(client::HttpClient& http, const Seen& seen) {
    Result<bool> put =
        client::KvPut(http, lock_, Encode(seen.holders), {.flags = kFlags, .cas = seen.lock_index});
    return put.ok() && *put;
  }

  static void Decode(const std::string& text, std::int64_t* limit, std::set<std::string>* out) {
    Result<rapidjson::Document> doc = client::ParseJson(text);
    if (!doc.ok() || !doc->IsObject()) return;
    const client::Json& l = client::GetMember(*doc, "Limit");
    if (l.IsInt64()) *limit = l.GetInt64();
    const client::Json& holders = client::GetMember(*doc, "Holders");
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
  Result<std::string> session = client::CreateSession(
      *control, {.name = a.name.empty() ? "concierge lock " + a.prefix : a.name,
                 .ttl = a.ttl,
                 .lock_delay = a.lock_delay});
  if (!session.ok()) {
    std::cerr << "Error: " << session.status().message() << "\n";
    return 1;
  }
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
      if (client::RenewSession(*renewer, *session).code() == Status::Code::kNotFound) {
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
    client::DestroySession(*control, *session);
    return code;
  };

  // Take the lock: try, and when another session holds it, wait for it to change.
  const auto deadline =
      *timeout > core::Duration::zero() ? Clock::now() + *timeout : Clock::time_point::max();
  std::uint64_t index = 0;
  for (;;) {
    std::optional<bool> held = hold->Try(*control, &index);
    if (!held) return finish(1);
    if (*held) break;
    if (Clock::now() >= deadline) {
      std::cerr << "Shutdown triggered or timeout during lock acquisition\n";
      return finish(1);
    }
    // Changed under us, or free but not ours yet: try again shortly.
    if (index == 0) {
      std::this_thread::sleep_for(milliseconds(100));
      continue;
    }
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
    std::uint64_t seen = 0;
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
