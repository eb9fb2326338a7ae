#include "server/script_process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

extern char** environ;

namespace concierge::server {

namespace {

Status Errno(const std::string& what) {
  return Status::Unavailable(what + ": " + std::strerror(errno));
}

// Closes the descriptors it holds unless released.
struct Fds {
  int fd[2] = {-1, -1};
  ~Fds() {
    for (int f : fd) {
      if (f >= 0) ::close(f);
    }
  }
};

}  // namespace

Result<ScriptProcess> ScriptProcess::Start(const std::vector<std::string>& args) {
  if (args.empty()) return Status::InvalidArgument("no program to run");
  Fds pipe;
  if (::pipe2(pipe.fd, O_CLOEXEC) != 0) return Errno("pipe");
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  // Output to the pipe, input from /dev/null, and every other descriptor closed: the agent's
  // sockets, Raft files and log never reach the script.
  posix_spawn_file_actions_adddup2(&actions, pipe.fd[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipe.fd[1], STDERR_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  // Its own process group (killed together at the timeout), no blocked signals, and the
  // default action for SIGPIPE (which the agent ignores).
  sigset_t none;
  sigset_t defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    errno = rc;
    return Errno("exec " + args[0]);
  }
  ::close(std::exchange(pipe.fd[1], -1));
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) {
    Status st = Errno("pidfd_open");
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return st;
  }
  ::fcntl(pidfd, F_SETFD, FD_CLOEXEC);
  ::fcntl(pipe.fd[0], F_SETFL, ::fcntl(pipe.fd[0], F_GETFL) | O_NONBLOCK);
  return ScriptProcess(pid, std::exchange(pipe.fd[0], -1), pidfd);
}

ScriptProcess::ScriptProcess(ScriptProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      output_fd_(std::exchange(other.output_fd_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)) {}

ScriptProcess::~ScriptProcess() {
  if (output_fd_ >= 0) ::close(output_fd_);
  if (pidfd_ >= 0) ::close(pidfd_);
  if (pid_ > 0) {
    // Not reaped: the run was cancelled. The process is killed, so the wait is short.
    Kill();
    ::waitpid(pid_, nullptr, 0);
  }
}

void ScriptProcess::Kill() const {
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
}

int ScriptProcess::Reap() {
  if (pid_ <= 0) return -1;
  int status = 0;
  pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r != pid_) return -1;
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace concierge::server
