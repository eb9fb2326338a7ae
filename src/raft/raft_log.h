// The Raft log under the registry: libraft 0.15 on libuv (raft_uv for the log and
// snapshots on disk, raft_uv_tcp between servers). Commands are appended on the leader,
// applied on every server in log order, and acknowledged only once committed, which on a
// single voter means written and synced to disk.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

extern "C" {
#include <raft.h>
#include <raft/uv.h>
}

#include "core/status.h"
#include "raft/auth_transport.h"
#include "server/command_log.h"
#include "server/registry.h"

namespace concierge::raft {

struct Peer {
  raft_id id;
  std::string address;  // host:port of its Raft transport
};

struct RaftOptions {
  std::string dir;  // the log and snapshots; created if missing
  raft_id id = 1;
  std::string address = "127.0.0.1:8300";
  // The initial configuration, used only if the directory holds none yet. Every server of a
  // new cluster must be given the same one.
  std::vector<Peer> bootstrap;
  // Take a snapshot once the log since the last one holds this many entries, and at least
  // one entry for every `snapshot_bytes_per_entry` bytes of the last snapshot; keep
  // `snapshot_trailing` entries after it for followers that lag. Snapshots bound the log
  // on disk and the restart time; growing their interval with their size bounds what
  // encoding and writing them costs each entry (a fixed interval costs O(catalog) per
  // entry: at 1,000,000 instances, 100 MB every 16,384 entries).
  unsigned snapshot_threshold = 16384;
  unsigned snapshot_bytes_per_entry = 1024;
  unsigned snapshot_trailing = 4096;
  // Peers must prove this key on every connection (raft/auth_transport.h). Unset: any peer
  // that reaches the Raft port is taken at its word.
  std::optional<tls::ClusterKey> cluster_key;
};

class RaftLog final : public server::CommandLog {
 public:
  // `options` gives the directory and identity; Start gives the initial configuration.
  RaftLog(uv_loop_t* loop, server::Registry& registry, RaftOptions options);
  ~RaftLog() override;
  RaftLog(const RaftLog&) = delete;
  RaftLog& operator=(const RaftLog&) = delete;

  // Opens the directory, bootstraps it with `options.bootstrap` if it holds no log yet,
  // replays the log and starts Raft. Call before the loop runs, or on the loop. The error
  // says what was wrong with the directory or address.
  Status Start(const RaftOptions& options);
  // Runs after every apply on the state thread (to re-arm the registry's timers).
  void set_after_apply(std::function<void()> fn) { after_apply_ = std::move(fn); }

  void Append(core::Command command, Done done) override;
  // Group commit: the commands given together, and those that arrive while a write is on its
  // way to disk, go out as one raft_apply of many entries, so they share one disk write (and
  // one AppendEntries per follower). See docs/design.md "Group commit".
  void AppendAll(std::vector<Write> writes) override;
  void Close(std::function<void()> done) override;

  // Any thread.
  server::ClusterInfo Cluster() const;
  // Any thread: whether `address` is the leader's server address, and how long since the
  // leader was heard: Cluster()'s answers that a forwarded request needs, without its copy
  // of the voters (a follower asks them for every heartbeat it forwards).
  bool LeaderIs(std::string_view address) const;
  std::int64_t LastContactMs(bool* known_leader) const;
  bool started() const { return started_flag_.load(); }

  // State thread, on the leader: membership changes and leadership transfer. `done` runs on
  // the state thread once the change is committed, or with why it failed.
  using StatusDone = std::function<void(Status)>;
  void AddVoter(raft_id id, const std::string& address, StatusDone done);
  void RemoveServer(raft_id id, StatusDone done);
  // Hands leadership to voter `to` (0: the most up to date one). `done` says whether it moved.
  void TransferLeadership(StatusDone done, raft_id to = 0);
  // State thread: completes once this server has confirmed, through a quorum, that it still
  // leads and has applied everything committed before (Consul's ?consistent).
  void Barrier(StatusDone done);
  // Any thread: this server leads (as of the last check, every 20 ms or on a change).
  bool is_leader() const { return leader_flag_.load(); }
  // Any thread: this server leads and has applied everything earlier leaders committed (its
  // first barrier is done): its state is the cluster's. Until then it is behind.
  bool leader_ready() const { return ready_flag_.load(); }
  // Asks for a snapshot at the next opportunity (tests, backups).
  raft_index last_applied() const { return last_applied_.load(); }
  // State thread: the entries after which the next snapshot is taken (RaftOptions).
  unsigned snapshot_threshold() const { return raft_.snapshot.threshold; }

 private:
  struct Batch;
  struct Pending {  // an entry of a batch, until it is applied
    Batch* batch;
    std::size_t slot;
  };
  void Release();
  static void BatchDone(struct raft_apply* req, int status, void* result);
  void Resolve(Pending pending, Result<core::Index> result);
  void Written();
  void FailWrites(const Status& why);
  static int FsmApply(raft_fsm* fsm, const raft_buffer* buf, void** result);
  // Snapshots in three steps (libraft's FSM version 3): FsmSnapshot takes the registry's
  // image on the state thread (pointer copies, no encoding), FsmSnapshotAsync encodes it on
  // a libuv worker thread while commands keep applying, FsmSnapshotFinalize frees the bytes
  // on the state thread once libraft has written them.
  static int FsmSnapshot(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs);
  static int FsmSnapshotAsync(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs);
  static int FsmSnapshotFinalize(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs);
  static int FsmRestore(raft_fsm* fsm, raft_buffer* buf);
  void WatchLeadership();

  uv_loop_t* loop_;
  server::Registry& registry_;
  RaftOptions options_;
  // libraft's I/O (raft_uv) with a way back to us from the raft_io pointer (AsyncWork).
  struct Io {
    raft_io io{};  // first: a raft_io* is a pointer to its Io
    RaftLog* owner = nullptr;
  };
  Io io_;
  // Runs a job on libuv's thread pool for libraft (asynchronous snapshots), which raft_uv
  // 0.15 does not provide.
  static int AsyncWork(raft_io* io, raft_io_async_work* req, raft_io_async_work_cb cb);
  int async_in_flight_ = 0;            // AsyncWork jobs not yet called back
  std::function<void()> after_async_;  // what waits for them (Close)
  void CloseRaft();
  bool closing_ = false;                 // Close has begun: no new writes
  std::uint64_t close_deadline_ms_ = 0;  // uv_now() until which Close waits for a write
  raft_uv_transport transport_{};
  std::unique_ptr<AuthTransport> auth_;  // over transport_, with a cluster key
  raft_fsm fsm_{};
  struct raft raft_ {};
  uv_timer_t watch_{};
  // Returns the heap a snapshot freed to the OS (malloc_trim) once libraft is likely done
  // writing it: the snapshot is a copy of the whole state, and glibc keeps freed memory.
  void TrimAfterSnapshot();
  // Sets libraft's snapshot threshold for a last snapshot of `bytes` (RaftOptions).
  void ScaleSnapshotThreshold(std::size_t bytes);
  std::uint64_t trim_at_ms_ = 0;  // uv_now() of the next trim; 0 = none
  // From FsmSnapshot (state thread) to FsmSnapshotAsync (worker). libraft takes one snapshot
  // at a time and finalizes it before the next, and libuv orders the hand-offs, so the three
  // never touch it at once.
  std::unique_ptr<server::Registry::Image> snapshot_image_;
  int trims_left_ = 0;
  bool started_ = false;
  std::atomic<bool> started_flag_{false};
  std::atomic<bool> leader_flag_{false};
  std::atomic<bool> ready_flag_{false};  // leader_ready_, for other threads
  bool LeaderNow() { return started_ && raft_state(&raft_) == RAFT_LEADER; }
  bool leader_ready_ = false;  // leader, and its barrier has applied the whole log
  struct raft_barrier barrier_ {};
  // Group commit. Entries are known by their buffers, which libraft hands back to FsmApply on
  // the leader: raft_apply calls back after the first entry of a batch is applied, not the
  // last, so each entry is answered from its own apply instead.
  std::unordered_map<const void*, Pending> pending_;
  std::vector<Write> queued_;  // for the next write
  std::size_t in_flight_ = 0;  // entries written and not yet applied
  uv_timer_t next_{};          // starts the next write once these are applied
  std::function<void()> after_apply_;
  std::function<void()> close_done_;
  std::atomic<raft_index> last_applied_{0};

  mutable std::mutex status_mu_;
  server::ClusterInfo status_;
};

}  // namespace concierge::raft
