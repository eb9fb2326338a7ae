// The agent's data directory: one agent at a time (a lock), and a format version that tells a
// later build what it finds (docs/operations.md, "Upgrades").
#pragma once

#include <string>

#include "core/status.h"

namespace concierge::cli {

// The layout of the data directory this build writes and reads: raft/ (libraft's log and
// snapshots, whose entries carry their own format versions, core/codec.h), members.json, LOCK.
inline constexpr int kDataFormat = 1;
inline constexpr char kDataFormatFile[] = "concierge-data.json";

// Holds an exclusive lock on the data directory, so that two agents never share one.
class DataDirLock {
 public:
  DataDirLock() = default;
  DataDirLock(const DataDirLock&) = delete;
  DataDirLock& operator=(const DataDirLock&) = delete;
  ~DataDirLock();

  // Creates `dir` if missing and locks it; Unavailable if another agent holds it.
  Status Acquire(const std::string& dir);

 private:
  int fd_ = -1;
};

// Reads `dir`/concierge-data.json: a directory without one (new, or written before the file
// existed: the same format) gets one; a format newer than kDataFormat is an error that says
// which build wrote it. `version` is this build's, recorded as the writer.
Status CheckDataFormat(const std::string& dir, const std::string& version);

}  // namespace concierge::cli
