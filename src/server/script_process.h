// A script check's process: started with no descriptor of the agent's but a pipe for its
// output (stdout and stderr together) and /dev/null as stdin, in a process group of its own
// so that a timeout kills it with whatever it started. Nothing here blocks: the caller reads
// `output` and waits on `pidfd` (readable once the process has exited) with its event loop.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "core/status.h"

namespace concierge::server {

class ScriptProcess {
 public:
  // Runs args[0] (looked up in PATH when it has no '/') with the agent's environment.
  static Result<ScriptProcess> Start(const std::vector<std::string>& args);
  ScriptProcess(ScriptProcess&& other) noexcept;
  ScriptProcess& operator=(ScriptProcess&&) = delete;
  ScriptProcess(const ScriptProcess&) = delete;
  // Kills and reaps the process if Reap has not (never leaves a zombie).
  ~ScriptProcess();

  // Both non-blocking and close-on-exec; owned here until released to the event loop.
  int ReleaseOutput() { return std::exchange(output_fd_, -1); }
  int ReleasePidfd() { return std::exchange(pidfd_, -1); }
  pid_t pid() const { return pid_; }
  // SIGKILL to the process group.
  void Kill() const;
  // The exit code once the process has exited (the pidfd was readable): 0..255, or 128+signal
  // for a process killed by a signal; -1 if it has not exited.
  int Reap();

 private:
  ScriptProcess(pid_t pid, int output_fd, int pidfd)
      : pid_(pid), output_fd_(output_fd), pidfd_(pidfd) {}
  pid_t pid_ = -1;
  int output_fd_ = -1;
  int pidfd_ = -1;
};

}  // namespace concierge::server
