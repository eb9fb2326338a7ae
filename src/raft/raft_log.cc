#include "raft/raft_log.h"

#include <malloc.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "core/codec.h"
#include "server/metrics.h"

namespace concierge::raft {

namespace {

std::string RaftError(int rv, struct raft* r = nullptr) {
  std::string msg = raft_strerror(rv);
  if (r != nullptr && raft_errmsg(r) != nullptr && raft_errmsg(r)[0] != '\0') {
    msg += std::string(": ") + raft_errmsg(r);
  }
  return msg;
}

}  // namespace

// One raft_apply of several entries. Freed once libraft has called back and every entry is
// answered.
struct RaftLog::Batch {
  struct raft_apply req {};
  RaftLog* self = nullptr;
  raft_term term = 0;
  std::vector<const void*> bases;  // the entries' buffers
  std::vector<Done> dones;         // emptied once answered
  std::size_t unanswered = 0;
  bool requested = true;  // libraft holds `req`
};

namespace {

// What one raft_apply carries at most; the rest waits for the next write. libraft refuses a
// batch larger than a segment (8 MiB), and one large command goes alone.
constexpr std::size_t kMaxBatchBytes = 1 << 20;
constexpr std::size_t kMaxBatchEntries = 4096;

}  // namespace

RaftLog::RaftLog(uv_loop_t* loop, server::Registry& registry, RaftOptions options)
    : loop_(loop), registry_(registry), options_(std::move(options)) {
  fsm_.version = 3;
  fsm_.data = this;
  fsm_.apply = &RaftLog::FsmApply;
  fsm_.snapshot = &RaftLog::FsmSnapshot;
  fsm_.restore = &RaftLog::FsmRestore;
  fsm_.snapshot_finalize = &RaftLog::FsmSnapshotFinalize;
  fsm_.snapshot_async = &RaftLog::FsmSnapshotAsync;
}

RaftLog::~RaftLog() {
  if (!started_) return;
  // Started but never closed: the agent failed after Start (e.g. its HTTP port was taken),
  // before the state thread ran the loop. libraft's handles on the loop point here, so close
  // them on the loop, which no other thread runs yet.
  bool closed = false;
  Close([&closed] { closed = true; });
  while (!closed) uv_run(loop_, UV_RUN_ONCE);
}

Status RaftLog::Start(const RaftOptions& options) {
  if (started_) return Status::Ok();
  options_ = options;
  std::error_code ec;
  std::filesystem::create_directories(options_.dir, ec);
  if (ec) {
    return Status::Unavailable("cannot create data directory " + options_.dir + ": " +
                               ec.message());
  }
  // Only the leader decides expiries, and only once it has applied the whole log.
  registry_.SetLeader(false);
  registry_.set_proposer([this](core::Command command) {
    Append(std::move(command), [](Result<core::Index> r) {
      if (!r.ok()) spdlog::debug("internal command not applied: {}", r.status().message());
    });
  });

  int rv = raft_uv_tcp_init(&transport_, loop_);
  if (rv != 0) return Status::Internal("raft transport: " + RaftError(rv));
  raft_uv_transport* transport = &transport_;
  if (options_.cluster_key) {
    auth_ = std::make_unique<AuthTransport>(loop_, &transport_, *options_.cluster_key);
    transport = auth_->transport();
  }
  rv = raft_uv_init(&io_.io, loop_, options_.dir.c_str(), transport);
  if (rv != 0) {
    std::string why = io_.io.errmsg;
    raft_uv_tcp_close(&transport_);
    return Status::Unavailable("cannot open the Raft log in " + options_.dir + ": " +
                               RaftError(rv) + (why.empty() ? "" : " (" + why + ")"));
  }
  if (io_.io.version < 2 || io_.io.async_work == nullptr) {
    // raft_uv 0.15 has no async_work, which asynchronous snapshots need: libuv's thread
    // pool gives it.
    io_.io.version = 2;
    io_.io.async_work = &RaftLog::AsyncWork;
    io_.owner = this;
  }
  rv = raft_init(&raft_, &io_.io, &fsm_, options_.id, options_.address.c_str());
  if (rv != 0) return Status::Internal("raft_init: " + RaftError(rv, &raft_));
  raft_set_snapshot_threshold(&raft_, options_.snapshot_threshold);
  raft_set_snapshot_trailing(&raft_, options_.snapshot_trailing);
  raft_set_election_timeout(&raft_, 1000);
  raft_set_heartbeat_timeout(&raft_, 100);
  raft_set_pre_vote(&raft_, true);

  if (!options_.bootstrap.empty()) {
    raft_configuration conf;
    raft_configuration_init(&conf);
    for (const Peer& p : options_.bootstrap) {
      raft_configuration_add(&conf, p.id, p.address.c_str(), RAFT_VOTER);
    }
    rv = raft_bootstrap(&raft_, &conf);
    raft_configuration_close(&conf);
    if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {  // CANTBOOTSTRAP: not new, just restarting
      return Status::Unavailable("cannot bootstrap the Raft log in " + options_.dir + ": " +
                                 RaftError(rv, &raft_));
    }
  }
  rv = raft_start(&raft_);
  if (rv != 0) {
    return Status::Unavailable("cannot start Raft (data in " + options_.dir + ", address " +
                               options_.address + "): " + RaftError(rv, &raft_));
  }
  started_ = true;
  started_flag_ = true;
  uv_timer_init(loop_, &watch_);
  watch_.data = this;
  uv_timer_init(loop_, &next_);
  next_.data = this;
  uv_timer_start(
      &watch_, [](uv_timer_t* t) { static_cast<RaftLog*>(t->data)->WatchLeadership(); }, 0, 20);
  return Status::Ok();
}

void RaftLog::ScaleSnapshotThreshold(std::size_t bytes) {
  std::size_t entries = bytes / std::max(1U, options_.snapshot_bytes_per_entry);
  auto threshold = static_cast<unsigned>(
      std::clamp<std::size_t>(entries, options_.snapshot_threshold, 1U << 30));
  if (threshold != raft_.snapshot.threshold) {
    spdlog::debug("raft: next snapshot after {} entries (the last was {} bytes)", threshold, bytes);
  }
  raft_set_snapshot_threshold(&raft_, threshold);
}

void RaftLog::TrimAfterSnapshot() {
  if (trims_left_ == 0 || uv_now(loop_) < trim_at_ms_) return;
  malloc_trim(0);
  // Once soon after the snapshot, once more when a large one has surely been written.
  trim_at_ms_ = uv_now(loop_) + 8'000;
  --trims_left_;
}

void RaftLog::WatchLeadership() {
  TrimAfterSnapshot();
  bool leader = raft_state(&raft_) == RAFT_LEADER;
  leader_flag_ = leader;
  {
    raft_id id = 0;
    const char* address = nullptr;
    raft_leader(&raft_, &id, &address);
    std::lock_guard lock(status_mu_);
    status_.known_leader = id != 0;
    // Followers: time since the leader was last heard from (Raft restarts the election
    // timer on every contact). The leader is in contact with itself.
    status_.last_contact_ms =
        leader || id == 0
            ? 0
            : static_cast<std::int64_t>(io_.io.time(&io_.io) - raft_.election_timer_start);
    status_.leader = address != nullptr ? address : "";
    status_.voters.clear();
    for (unsigned i = 0; i < raft_.configuration.n; ++i) {
      const raft_server& s = raft_.configuration.servers[i];
      if (s.role == RAFT_VOTER) status_.voters.emplace_back(s.address);
    }
  }
  if (!leader && (in_flight_ > 0 || !queued_.empty())) {
    FailWrites(
        Status::Unavailable("leadership lost: this server is no longer the leader, and "
                            "the write may or may not have been committed"));
  }
  if (!leader && leader_ready_) {
    leader_ready_ = false;
    ready_flag_ = false;
    barrier_.data = nullptr;
    registry_.SetLeader(false);
    spdlog::warn("raft: no longer the leader");
  }
  if (leader && !leader_ready_ && barrier_.data == nullptr) {
    // Apply everything earlier leaders committed before deciding anything.
    barrier_.data = this;
    int rv = raft_barrier(&raft_, &barrier_, [](struct raft_barrier* req, int status) {
      auto* self = static_cast<RaftLog*>(req->data);
      req->data = nullptr;
      if (status != 0 || raft_state(&self->raft_) != RAFT_LEADER) return;
      self->leader_ready_ = true;
      self->ready_flag_ = true;
      self->registry_.SetLeader(true);
      spdlog::info("raft: leader ({} applied)", raft_last_applied(&self->raft_));
      if (self->after_apply_) self->after_apply_();
    });
    if (rv != 0) barrier_.data = nullptr;
  }
}

server::ClusterInfo RaftLog::Cluster() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

bool RaftLog::LeaderIs(std::string_view address) const {
  std::lock_guard lock(status_mu_);
  return status_.leader == address;
}

std::int64_t RaftLog::LastContactMs(bool* known_leader) const {
  std::lock_guard lock(status_mu_);
  *known_leader = status_.known_leader;
  return status_.last_contact_ms;
}

void RaftLog::Append(core::Command command, Done done) {
  std::vector<Write> writes;
  writes.push_back({std::move(command), std::move(done)});
  AppendAll(std::move(writes));
}

void RaftLog::AppendAll(std::vector<Write> writes) {
  if (closing_) {
    for (Write& w : writes) w.done(Status::Unavailable("the agent is shutting down"));
    return;
  }
  if (!started_ || raft_state(&raft_) != RAFT_LEADER) {
    for (Write& w : writes) {
      w.done(
          Status::Unavailable("no cluster leader: this server is not the leader; retry, or "
                              "send the write to the leader"));
    }
    return;
  }
  for (Write& w : writes) queued_.push_back(std::move(w));
  // Nothing on its way to disk: write now. Otherwise these wait for the write in flight and
  // go out together in the next one (Written).
  if (in_flight_ == 0) Release();
}

void RaftLog::Release() {
  uv_timer_stop(&next_);
  std::vector<Write> writes;
  writes.swap(queued_);
  std::size_t next = 0;
  while (next < writes.size()) {
    // libraft 0.15's on-disk segments misread entries whose length is not a multiple of 8
    // (found by restarting after kill -9: "short read" on the next batch), so every entry is
    // framed as [4-byte little-endian length][command][zero padding to 8 bytes].
    std::vector<raft_buffer> bufs;
    auto* batch = new Batch;
    batch->self = this;
    batch->term = raft_.current_term;
    batch->req.data = batch;
    std::size_t bytes_in_batch = 0;
    Status failed;
    while (next < writes.size() && bufs.size() < kMaxBatchEntries) {
      std::string bytes = core::EncodeCommand(writes[next].command);
      raft_buffer buf;
      buf.len = (4 + bytes.size() + 7) / 8 * 8;
      if (!bufs.empty() && bytes_in_batch + buf.len > kMaxBatchBytes) break;
      buf.base = raft_calloc(1, buf.len);
      if (buf.base == nullptr) {
        failed = Status::Internal("out of memory");
        break;
      }
      auto* out = static_cast<unsigned char*>(buf.base);
      for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(bytes.size() >> (8 * i));
      std::memcpy(out + 4, bytes.data(), bytes.size());
      bytes_in_batch += buf.len;
      bufs.push_back(buf);
      batch->bases.push_back(buf.base);
      batch->dones.push_back(std::move(writes[next].done));
      ++next;
    }
    int rv = failed.ok() ? raft_apply(&raft_, &batch->req, bufs.data(),
                                      static_cast<unsigned>(bufs.size()), &RaftLog::BatchDone)
                         : RAFT_NOMEM;
    if (rv != 0) {
      for (raft_buffer& buf : bufs) raft_free(buf.base);
      Status why = failed.ok() ? Status::Unavailable("write not accepted: " + RaftError(rv, &raft_))
                               : failed;
      for (Done& done : batch->dones) done(why);
      delete batch;
      if (!failed.ok()) writes[next++].done(why);  // the command that could not be framed
      continue;
    }
    registry_.metrics().raft_appends.Inc();
    registry_.metrics().raft_entries.Inc(batch->dones.size());
    batch->unanswered = batch->dones.size();
    for (std::size_t i = 0; i < batch->bases.size(); ++i) pending_[batch->bases[i]] = {batch, i};
    in_flight_ += batch->dones.size();
  }
}

// libraft is done with a batch: after its first entry is applied, or with why it was not
// committed (leadership lost, disk error, ...), which none of its entries then was.
void RaftLog::BatchDone(struct raft_apply* req, int status, void*) {
  auto* batch = static_cast<Batch*>(req->data);
  batch->requested = false;
  RaftLog* self = batch->self;
  if (status != 0) {
    Status why = Status::Unavailable("write not committed: " + RaftError(status));
    for (std::size_t i = 0; i < batch->bases.size(); ++i) {
      if (!batch->dones[i]) continue;
      self->pending_.erase(batch->bases[i]);
      self->Resolve({batch, i}, why);
    }
  }
  if (batch->unanswered == 0) delete batch;
}

void RaftLog::Resolve(Pending pending, Result<core::Index> result) {
  Batch* batch = pending.batch;
  Done done = std::move(batch->dones[pending.slot]);
  batch->dones[pending.slot] = nullptr;
  --batch->unanswered;
  --in_flight_;
  done(std::move(result));
  if (in_flight_ == 0) Written();
}

// The writes in flight are applied (or failed): what queued meanwhile goes out next, from the
// loop (this runs inside libraft's callbacks), before the answers are given out. Waiting
// longer for the clients just answered, so that they share the write, was measured to be
// slower: their round trip is then spent with the disk idle.
void RaftLog::Written() {
  if (queued_.empty()) return;
  uv_timer_start(
      &next_,
      [](uv_timer_t* t) {
        auto* self = static_cast<RaftLog*>(t->data);
        if (self->in_flight_ == 0 && !self->queued_.empty()) self->Release();
      },
      0, 0);
}

void RaftLog::FailWrites(const Status& why) {
  uv_timer_stop(&next_);
  std::vector<Write> queued;
  queued.swap(queued_);
  for (Write& w : queued) w.done(why);
  // Entries written but not applied: libraft may still call back for their batches, which
  // then find nothing left to answer.
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [base, p] : pending) {
    Batch* batch = p.batch;
    Done done = std::move(batch->dones[p.slot]);
    batch->dones[p.slot] = nullptr;
    --batch->unanswered;
    done(why);
    if (batch->unanswered == 0 && !batch->requested) delete batch;
  }
  in_flight_ = 0;
}

int RaftLog::FsmApply(raft_fsm* fsm, const raft_buffer* buf, void** result) {
  auto* self = static_cast<RaftLog*>(fsm->data);
  *result = nullptr;
  std::string_view entry(static_cast<const char*>(buf->base), buf->len);
  std::size_t len = 0;
  for (int i = 0; i < 4 && i < static_cast<int>(entry.size()); ++i) {
    len |= static_cast<std::size_t>(static_cast<unsigned char>(entry[i])) << (8 * i);
  }
  auto command = entry.size() >= 4 && len <= entry.size() - 4
                     ? core::DecodeCommand(entry.substr(4, len))
                     : Result<core::Command>(Status::InvalidArgument("entry framing is corrupt"));
  if (!command.ok()) {
    // Every server skips the same entry, so they stay identical; say so loudly.
    spdlog::error("raft: skipping an entry that does not decode: {}", command.status().message());
  }
  Result<core::Index> applied =
      command.ok() ? self->registry_.Apply(*command) : Result<core::Index>(command.status());
  self->last_applied_.fetch_add(1);
  if (self->after_apply_) self->after_apply_();
  // One of ours, written in this term as leader (so its buffer is still the one we gave).
  if (!self->pending_.empty()) {
    auto it = self->pending_.find(buf->base);
    if (it != self->pending_.end()) {
      Pending p = it->second;
      self->pending_.erase(it);
      Batch* batch = p.batch;
      if (batch->term == self->raft_.current_term && raft_state(&self->raft_) == RAFT_LEADER) {
        self->Resolve(p, std::move(applied));
      } else {
        self->Resolve(p, Status::Unavailable("leadership lost while the write was in flight"));
      }
      if (batch->unanswered == 0 && !batch->requested) delete batch;
    }
  }
  return 0;
}

int RaftLog::FsmSnapshot(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) {
  auto* self = static_cast<RaftLog*>(fsm->data);
  // The staged parts of a restore are not in the image: snapshot once it is complete.
  if (self->registry_.restoring()) return RAFT_BUSY;
  *bufs = static_cast<raft_buffer*>(raft_calloc(1, sizeof(raft_buffer)));
  if (*bufs == nullptr) return RAFT_NOMEM;
  *n_bufs = 1;
  auto started = std::chrono::steady_clock::now();
  self->snapshot_image_ = std::make_unique<server::Registry::Image>(self->registry_.TakeImage());
  spdlog::debug("raft: snapshot image of {} instances taken in {} us",
                self->registry_.instance_count(),
                std::chrono::duration_cast<std::chrono::microseconds>(
                    std::chrono::steady_clock::now() - started)
                    .count());
  return 0;
}

int RaftLog::AsyncWork(raft_io* io, raft_io_async_work* req, raft_io_async_work_cb cb) {
  struct Work {
    uv_work_t work{};
    RaftLog* self;
    raft_io_async_work* req;
    raft_io_async_work_cb cb;
    int status = 0;
  };
  RaftLog* self = reinterpret_cast<Io*>(io)->owner;
  auto* w = new Work{.self = self, .req = req, .cb = cb};
  w->work.data = w;
  int rv = uv_queue_work(
      self->loop_, &w->work,
      [](uv_work_t* work) {
        auto* w = static_cast<Work*>(work->data);
        w->status = w->req->work(w->req);
      },
      [](uv_work_t* work, int status) {  // on the loop; status is UV_ECANCELED if it never ran
        std::unique_ptr<Work> w(static_cast<Work*>(work->data));
        w->cb(w->req, status != 0 ? RAFT_CANCELED : w->status);
        RaftLog* self = w->self;
        if (--self->async_in_flight_ == 0 && self->after_async_) {
          std::function<void()> then = std::move(self->after_async_);
          self->after_async_ = nullptr;
          then();
        }
      });
  if (rv != 0) {
    delete w;
    return RAFT_IOERR;
  }
  ++self->async_in_flight_;
  return 0;
}

// On a libuv worker thread: only the image and the buffers are touched here.
int RaftLog::FsmSnapshotAsync(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) {
  auto* self = static_cast<RaftLog*>(fsm->data);
  std::unique_ptr<server::Registry::Image> image = std::move(self->snapshot_image_);
  if (!image || *n_bufs != 1) return RAFT_INVALID;
  std::string bytes = image->Encode();
  image.reset();  // the records it held, before the copy below doubles the memory in use
  void* base = raft_malloc(bytes.size());
  if (base == nullptr) return RAFT_NOMEM;
  std::memcpy(base, bytes.data(), bytes.size());
  (*bufs)[0].base = base;
  (*bufs)[0].len = bytes.size();
  return 0;
}

int RaftLog::FsmSnapshotFinalize(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) {
  auto* self = static_cast<RaftLog*>(fsm->data);
  self->snapshot_image_.reset();  // if the encoding never ran
  if (*bufs != nullptr) {
    std::size_t bytes = 0;
    for (unsigned i = 0; i < *n_bufs; ++i) {
      bytes += (*bufs)[i].len;
      raft_free((*bufs)[i].base);
    }
    raft_free(*bufs);
    if (bytes > 0) {
      spdlog::debug("raft: snapshot of {} bytes", bytes);
      self->ScaleSnapshotThreshold(bytes);
    }
  }
  *bufs = nullptr;
  *n_bufs = 0;
  self->trim_at_ms_ = uv_now(self->loop_) + 2'000;
  self->trims_left_ = 2;
  return 0;
}

int RaftLog::FsmRestore(raft_fsm* fsm, raft_buffer* buf) {
  auto* self = static_cast<RaftLog*>(fsm->data);
  Status st =
      self->registry_.Restore(std::string_view(static_cast<const char*>(buf->base), buf->len));
  self->ScaleSnapshotThreshold(buf->len);
  raft_free(buf->base);
  if (!st.ok()) {
    spdlog::error("raft: cannot restore snapshot: {}", st.message());
    return RAFT_CORRUPT;
  }
  spdlog::info("raft: restored a snapshot ({} instances)", self->registry_.instance_count());
  return 0;
}

namespace {

struct Change {
  struct raft_change req {};
  RaftLog::StatusDone done;
  std::function<void()> then;  // a second step (assign the role after adding)
};

}  // namespace

void RaftLog::AddVoter(raft_id id, const std::string& address, StatusDone done) {
  if (!LeaderNow()) {
    done(Status::Unavailable("no cluster leader: only the leader can add a server"));
    return;
  }
  auto* change = new Change;
  change->req.data = change;
  change->done = std::move(done);
  change->then = [this, id, change] {
    // Step two: promote the new (spare) server to voter.
    int rv =
        raft_assign(&raft_, &change->req, id, RAFT_VOTER, [](struct raft_change* req, int status) {
          auto* c = static_cast<Change*>(req->data);
          c->done(status == 0 ? Status::Ok()
                              : Status::Unavailable("cannot make the server a voter: " +
                                                    RaftError(status)));
          delete c;
        });
    if (rv != 0) {
      change->done(Status::Unavailable("cannot make the server a voter: " + RaftError(rv, &raft_)));
      delete change;
    }
  };
  int rv =
      raft_add(&raft_, &change->req, id, address.c_str(), [](struct raft_change* req, int status) {
        auto* c = static_cast<Change*>(req->data);
        if (status != 0) {
          c->done(Status::Unavailable("cannot add the server: " + RaftError(status)));
          delete c;
          return;
        }
        // Taken out first: the step must not destroy itself while it runs.
        std::exchange(c->then, nullptr)();
      });
  if (rv == RAFT_DUPLICATEID || rv == RAFT_DUPLICATEADDRESS) {
    // Already known (a retried join): make sure it votes.
    std::exchange(change->then, nullptr)();
  } else if (rv != 0) {
    change->done(Status::Unavailable("cannot add the server: " + RaftError(rv, &raft_)));
    delete change;
  }
}

void RaftLog::RemoveServer(raft_id id, StatusDone done) {
  if (!LeaderNow()) {
    done(Status::Unavailable("no cluster leader: only the leader can remove a server"));
    return;
  }
  auto* change = new Change;
  change->req.data = change;
  change->done = std::move(done);
  int rv = raft_remove(&raft_, &change->req, id, [](struct raft_change* req, int status) {
    auto* c = static_cast<Change*>(req->data);
    c->done(status == 0 ? Status::Ok()
                        : Status::Unavailable("cannot remove the server: " + RaftError(status)));
    delete c;
  });
  if (rv != 0) {
    change->done(rv == RAFT_BADID
                     ? Status::NotFound("no server with that ID in the configuration")
                     : Status::Unavailable("cannot remove the server: " + RaftError(rv, &raft_)));
    delete change;
  }
}

void RaftLog::TransferLeadership(StatusDone done, raft_id to) {
  if (!LeaderNow() || raft_.configuration.n < 2) {
    done(Status::Ok());
    return;
  }
  struct Transfer {
    struct raft_transfer req {};
    RaftLog* self;
    StatusDone done;
  };
  auto* t = new Transfer;
  t->req.data = t;
  t->self = this;
  t->done = std::move(done);
  int rv = raft_transfer(&raft_, &t->req, to, [](struct raft_transfer* req) {
    auto* t = static_cast<Transfer*>(req->data);
    // libraft calls back when the transfer ended, moved or not (it gives up after an
    // election timeout).
    t->done(t->self->LeaderNow() ? Status::Unavailable("leadership did not move: the other "
                                                       "voter did not take over in time")
                                 : Status::Ok());
    delete t;
  });
  if (rv != 0) {
    t->done(Status::Unavailable("cannot transfer leadership: " + RaftError(rv, &raft_)));
    delete t;
  }
}

void RaftLog::Barrier(StatusDone done) {
  if (!LeaderNow()) {
    done(Status::Unavailable("no cluster leader: this server is no longer the leader"));
    return;
  }
  struct Request {
    struct raft_barrier req {};
    StatusDone done;
  };
  auto* r = new Request;
  r->req.data = r;
  r->done = std::move(done);
  int rv = raft_barrier(&raft_, &r->req, [](struct raft_barrier* req, int status) {
    auto* r = static_cast<Request*>(req->data);
    r->done(status == 0 ? Status::Ok()
                        : Status::Unavailable("leadership not confirmed: " + RaftError(status)));
    delete r;
  });
  if (rv != 0) {
    r->done(Status::Unavailable("leadership not confirmed: " + RaftError(rv, &raft_)));
    delete r;
  }
}

void RaftLog::Close(std::function<void()> done) {
  if (!started_) {
    done();
    return;
  }
  close_done_ = std::move(done);
  closing_ = true;
  // What is queued was never sent: refused now. What is on its way to disk gets its real
  // outcome if the write completes soon; libraft 0.15 can also crash when it is closed with
  // an append in flight (seen about once in ten closes under load).
  uv_timer_stop(&next_);
  std::vector<Write> queued;
  queued.swap(queued_);
  for (Write& w : queued) w.done(Status::Unavailable("the agent is shutting down"));
  close_deadline_ms_ = uv_now(loop_) + 2'000;
  uv_timer_start(
      &watch_,
      [](uv_timer_t* t) {
        auto* self = static_cast<RaftLog*>(t->data);
        bool written = self->raft_.last_stored >= raft_last_index(&self->raft_);
        if (!written && uv_now(self->loop_) < self->close_deadline_ms_) return;
        uv_timer_stop(&self->watch_);
        self->FailWrites(Status::Unavailable("the agent is shutting down"));
        // raft_uv does not know of the jobs AsyncWork gave libuv: libraft must not be closed
        // under one (its callback continues the snapshot), so the close waits for them.
        if (self->async_in_flight_ > 0) {
          self->after_async_ = [self] { self->CloseRaft(); };
          return;
        }
        self->CloseRaft();
      },
      0, 5);
}

void RaftLog::CloseRaft() {
  raft_.data = this;
  raft_close(&raft_, [](struct raft* r) {
    auto* self = static_cast<RaftLog*>(r->data);
    raft_uv_close(&self->io_.io);
    raft_uv_tcp_close(&self->transport_);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->watch_), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->next_), nullptr);
    self->started_ = false;
    self->started_flag_ = false;
    self->leader_flag_ = false;
    self->ready_flag_ = false;
    self->close_done_();
  });
}

}  // namespace concierge::raft
