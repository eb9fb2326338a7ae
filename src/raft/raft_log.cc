#include "raft/raft_log.h"

#include <malloc.h>

#include <cstring>
#include <filesystem>
#include <utility>

#include <spdlog/spdlog.h>

#include "core/codec.h"

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

struct RaftLog::ApplyRequest {
  struct raft_apply req{};
  RaftLog* self = nullptr;
  Done done;
};

RaftLog::RaftLog(uv_loop_t* loop, server::Registry& registry, RaftOptions options)
    : loop_(loop), registry_(registry), options_(std::move(options)) {
  fsm_.version = 1;
  fsm_.data = this;
  fsm_.apply = &RaftLog::FsmApply;
  fsm_.snapshot = &RaftLog::FsmSnapshot;
  fsm_.restore = &RaftLog::FsmRestore;
}

RaftLog::~RaftLog() = default;

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
  rv = raft_uv_init(&io_, loop_, options_.dir.c_str(), transport);
  if (rv != 0) {
    std::string why = io_.errmsg;
    raft_uv_tcp_close(&transport_);
    return Status::Unavailable("cannot open the Raft log in " + options_.dir + ": " +
                               RaftError(rv) + (why.empty() ? "" : " (" + why + ")"));
  }
  rv = raft_init(&raft_, &io_, &fsm_, options_.id, options_.address.c_str());
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
  uv_timer_start(
      &watch_, [](uv_timer_t* t) { static_cast<RaftLog*>(t->data)->WatchLeadership(); }, 0, 20);
  return Status::Ok();
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
        leader || id == 0 ? 0 : static_cast<std::int64_t>(io_.time(&io_) - raft_.election_timer_start);
    status_.leader = address != nullptr ? address : "";
    status_.voters.clear();
    for (unsigned i = 0; i < raft_.configuration.n; ++i) {
      const raft_server& s = raft_.configuration.servers[i];
      if (s.role == RAFT_VOTER) status_.voters.emplace_back(s.address);
    }
  }
  if (!leader && leader_ready_) {
    leader_ready_ = false;
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

void RaftLog::Append(core::Command command, Done done) {
  if (!started_ || raft_state(&raft_) != RAFT_LEADER) {
    done(Status::Unavailable("no cluster leader: this server is not the leader; retry, or send "
                             "the write to the leader"));
    return;
  }
  // libraft 0.15's on-disk segments misread entries whose length is not a multiple of 8
  // (found by restarting after kill -9: "short read" on the next batch), so every entry is
  // framed as [4-byte little-endian length][command][zero padding to 8 bytes].
  std::string bytes = core::EncodeCommand(command);
  raft_buffer buf;
  buf.len = (4 + bytes.size() + 7) / 8 * 8;
  buf.base = raft_calloc(1, buf.len);
  if (buf.base == nullptr) {
    done(Status::Internal("out of memory"));
    return;
  }
  auto* out = static_cast<unsigned char*>(buf.base);
  for (int i = 0; i < 4; ++i) out[i] = static_cast<unsigned char>(bytes.size() >> (8 * i));
  std::memcpy(out + 4, bytes.data(), bytes.size());
  auto* request = new ApplyRequest;
  request->self = this;
  request->done = std::move(done);
  request->req.data = request;
  int rv = raft_apply(&raft_, &request->req, &buf, 1, [](struct raft_apply* req, int status, void*) {
    auto* request = static_cast<ApplyRequest*>(req->data);
    RaftLog* self = request->self;
    if (status != 0) {
      // Not committed (leadership lost, disk error, ...): never acknowledged.
      request->done(Status::Unavailable("write not committed: " + RaftError(status)));
    } else if (self->last_result_) {
      request->done(std::move(*self->last_result_));
    } else {
      request->done(Status::Internal("write committed but no result recorded"));
    }
    self->last_result_.reset();
    delete request;
  });
  if (rv != 0) {
    raft_free(buf.base);
    Done d = std::move(request->done);
    delete request;
    d(Status::Unavailable("write not accepted: " + RaftError(rv, &raft_)));
  }
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
    spdlog::error("raft: skipping an entry that does not decode: {}",
                  command.status().message());
    self->last_result_ = command.status();
  } else {
    self->last_result_ = self->registry_.Apply(*command);
  }
  self->last_applied_.fetch_add(1);
  if (self->after_apply_) self->after_apply_();
  return 0;
}

int RaftLog::FsmSnapshot(raft_fsm* fsm, raft_buffer* bufs[], unsigned* n_bufs) {
  auto* self = static_cast<RaftLog*>(fsm->data);
  std::string bytes = self->registry_.Snapshot();
  self->trim_at_ms_ = uv_now(self->loop_) + 2'000;
  self->trims_left_ = 2;
  *bufs = static_cast<raft_buffer*>(raft_malloc(sizeof(raft_buffer)));
  if (*bufs == nullptr) return RAFT_NOMEM;
  (*bufs)[0].len = bytes.size();
  (*bufs)[0].base = raft_malloc(bytes.size());
  if ((*bufs)[0].base == nullptr) {
    raft_free(*bufs);
    return RAFT_NOMEM;
  }
  std::memcpy((*bufs)[0].base, bytes.data(), bytes.size());
  *n_bufs = 1;
  spdlog::debug("raft: snapshot of {} bytes", bytes.size());
  return 0;
}

int RaftLog::FsmRestore(raft_fsm* fsm, raft_buffer* buf) {
  auto* self = static_cast<RaftLog*>(fsm->data);
  Status st = self->registry_.Restore(
      std::string_view(static_cast<const char*>(buf->base), buf->len));
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
  struct raft_change req{};
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
    int rv = raft_assign(&raft_, &change->req, id, RAFT_VOTER, [](struct raft_change* req, int status) {
      auto* c = static_cast<Change*>(req->data);
      c->done(status == 0 ? Status::Ok()
                          : Status::Unavailable("cannot make the server a voter: " + RaftError(status)));
      delete c;
    });
    if (rv != 0) {
      change->done(Status::Unavailable("cannot make the server a voter: " + RaftError(rv, &raft_)));
      delete change;
    }
  };
  int rv = raft_add(&raft_, &change->req, id, address.c_str(), [](struct raft_change* req, int status) {
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
    change->done(rv == RAFT_BADID ? Status::NotFound("no server with that ID in the configuration")
                                  : Status::Unavailable("cannot remove the server: " +
                                                        RaftError(rv, &raft_)));
    delete change;
  }
}

void RaftLog::TransferLeadership(StatusDone done, raft_id to) {
  if (!LeaderNow() || raft_.configuration.n < 2) {
    done(Status::Ok());
    return;
  }
  struct Transfer {
    struct raft_transfer req{};
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
    struct raft_barrier req{};
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
  uv_timer_stop(&watch_);
  raft_.data = this;
  raft_close(&raft_, [](struct raft* r) {
    auto* self = static_cast<RaftLog*>(r->data);
    raft_uv_close(&self->io_);
    raft_uv_tcp_close(&self->transport_);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->watch_), nullptr);
    self->started_ = false;
    self->started_flag_ = false;
    self->leader_flag_ = false;
    self->close_done_();
  });
}

}  // namespace concierge::raft
