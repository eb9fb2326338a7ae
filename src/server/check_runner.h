// Runs the active checks of the catalog (HTTP, TCP, UDP, script, GRPC, H2PING, OS service)
// while this server leads, on one Asio event loop thread: one coroutine per check, no thread
// per check (a script check's process is waited for through a pidfd, never by blocking). Each check
// first runs at an offset within its interval (FirstRunOffset) and then every interval; every run
// has its Timeout (connect, request and response together) and reads at most the output limit of
// the response body. Results pass a FlapFilter; a status that differs from the catalog's is handed
// to `propose` as an UpdateCheck, which goes through the registry's proposer like a TTL expiry
// (docs/health.md "Active checks").
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/command.h"
#include "server/active_checks.h"
#include "server/check_policy.h"
#include "server/h2_session.h"
#include "server/metrics.h"

namespace concierge::server {

class CheckRunner final : public ActiveChecks {
 public:
  // `propose` runs on the runner's thread; it must hand the command to the state thread.
  using Propose = std::function<void(core::UpdateCheck)>;
  // Records into `metrics`, which must outlive the runner.
  CheckRunner(Metrics& metrics, Propose propose,
              std::size_t max_output_bytes = core::Limits::kMaxOutputBytes);
  ~CheckRunner() override;
  CheckRunner(const CheckRunner&) = delete;
  CheckRunner& operator=(const CheckRunner&) = delete;

  // Before Start: the networks checks may connect to (-check-allowed-networks); a target
  // outside them is critical without being contacted.
  void set_allowed_networks(NetworkAllowList networks) { allowed_ = std::move(networks); }
  // Before Start: run script checks (-enable-script-checks); otherwise a script check is
  // critical without being run (a server that allows none may lead a cluster that does).
  void set_enable_scripts(bool enable) { enable_scripts_ = enable; }
  void Start();
  // Stops every check (in-flight runs are cancelled) and joins the thread.
  void Stop();

  // ActiveChecks: any thread; applied on the runner's thread in the order called.
  void Track(std::string_view service_id, const core::CheckDefinition& definition,
             core::HealthStatus status) override;
  void Untrack(std::string_view check_id) override;
  void StatusChanged(std::string_view check_id, core::HealthStatus status) override;
  void SetLeader(bool leader) override;

  // One check as the runner holds it (check_runner.cc).
  struct Entry;

  // Checks known, and runs done so far (for /v1/agent/self and metrics). Any thread.
  std::size_t checks() const { return count_.load(std::memory_order_relaxed); }
  std::uint64_t runs() const { return runs_.load(std::memory_order_relaxed); }

 private:
  struct Outcome {
    core::HealthStatus status = core::HealthStatus::kCritical;
    std::string output;
  };
  void StartLoop(const std::shared_ptr<Entry>& entry);
  void StopLoop(Entry& entry);
  boost::asio::awaitable<void> Loop(std::shared_ptr<Entry> entry, std::uint64_t generation);
  boost::asio::awaitable<Outcome> RunHttp(std::shared_ptr<Entry> entry);
  boost::asio::awaitable<Outcome> RunTcp(std::shared_ptr<Entry> entry);
  boost::asio::awaitable<Outcome> RunUdp(std::shared_ptr<Entry> entry);
  boost::asio::awaitable<Outcome> RunScript(std::shared_ptr<Entry> entry);
  boost::asio::awaitable<Outcome> RunOsService(std::shared_ptr<Entry> entry);
  boost::asio::awaitable<Outcome> RunGrpc(std::shared_ptr<Entry> entry);
  boost::asio::awaitable<Outcome> RunH2Ping(std::shared_ptr<Entry> entry);
  // Connects to `address` (TLS with ALPN h2 when `tls`) and runs `session` to its end within
  // the check's Timeout: "" or what went wrong.
  boost::asio::awaitable<std::string> RunHttp2(std::shared_ptr<Entry> entry, core::HostPort address,
                                               bool tls, bool skip_verify, H2Session* session);
  // A child process with its output, killed at `timeout` (exit_code -1 then, or if it could
  // not start: `error` says why).
  struct ProcessResult {
    int exit_code = -1;
    bool timed_out = false;
    std::string error;
    std::string output;  // at most max_output_ bytes, with a note when cut
  };
  boost::asio::awaitable<ProcessResult> RunProcess(std::shared_ptr<Entry> entry,
                                                   std::vector<std::string> args,
                                                   core::Duration timeout);
  void Report(Entry& entry, Outcome outcome);
  // Fills `endpoints` for host:port (an IP address, or a name looked up); an error otherwise.
  boost::asio::awaitable<boost::system::error_code> Resolve(
      std::shared_ptr<Entry> entry, std::string host, std::uint16_t port,
      std::vector<boost::asio::ip::tcp::endpoint>* endpoints);
  void LoopEnded();
  // Drops the endpoints outside allowed_; the error when none is left ("" if one is).
  std::string KeepAllowed(std::vector<boost::asio::ip::tcp::endpoint>* endpoints) const;

  Metrics& metrics_;
  Propose propose_;
  NetworkAllowList allowed_;
  bool enable_scripts_ = false;
  // TLS client contexts of GRPC and H2PING checks (verifying, and TLSSkipVerify), made once.
  struct TlsContexts;
  std::unique_ptr<TlsContexts> tls_;
  std::size_t max_output_;
  boost::asio::io_context ctx_{1};
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  // Ends a Stop that waits too long for in-flight runs (e.g. a name lookup).
  boost::asio::steady_timer stop_deadline_{ctx_};
  std::thread thread_;
  // Runner thread only.
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;
  bool leader_ = false;
  bool stopping_ = false;
  std::size_t loops_ = 0;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::uint64_t> runs_{0};
};

}  // namespace concierge::server
