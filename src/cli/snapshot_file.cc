#include "cli/snapshot_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace concierge::cli {
namespace {

std::string Errno() { return std::strerror(errno); }

}  // namespace

Status WriteFileAtomically(const std::string& path, std::string_view bytes) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::Unavailable("cannot create " + temp + ": " + Errno());
  auto fail = [&](const std::string& what) {
    std::string message = what + ": " + Errno();
    ::close(fd);
    ::unlink(temp.c_str());
    return Status::Unavailable(message);
  };
  std::size_t written = 0;
  while (written < bytes.size()) {
    ssize_t n = ::write(fd, bytes.data() + written, bytes.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write " + temp);
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) return fail("cannot sync " + temp);
  if (::close(fd) != 0) {
    std::string message = "cannot write " + temp + ": " + Errno();
    ::unlink(temp.c_str());
    return Status::Unavailable(message);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    std::string message = "cannot rename " + temp + " to " + path + ": " + Errno();
    ::unlink(temp.c_str());
    return Status::Unavailable(message);
  }
  return Status::Ok();
}

}  // namespace concierge::cli
