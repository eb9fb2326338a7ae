#include "raft/auth_transport.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <cstring>
#include <string_view>

#include "server/log_limit.h"

namespace concierge::raft {

namespace {

constexpr std::array<std::uint8_t, 8> kMagic = {'C', 'N', 'C', 'R', 'G', 'R', 'A', '1'};
constexpr std::size_t kNonce = 32;
constexpr std::size_t kMac = 32;

std::string_view View(const std::array<std::uint8_t, kNonce>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

void FreeStream(uv_handle_t* handle) { raft_free(handle); }

}  // namespace

struct AuthTransport::Handshake {
  enum class Stage { kConnecting, kChallenge, kResponse, kProof, kSendingProof, kDone };

  bool connector = false;  // we connected (else we accepted)
  Stage stage = Stage::kConnecting;
  uv_stream_t* stream = nullptr;
  raft_id peer_id = 0;
  std::string peer_address;
  // Connector: Raft's request, and ours to the TCP transport.
  raft_uv_connect* outer_req = nullptr;
  raft_uv_connect_cb outer_cb = nullptr;
  raft_uv_connect inner_req{};

  uv_timer_t timer{};
  bool timer_open = false;
  // The acceptor sends two messages, the connector one; each has its own request and bytes.
  std::array<uv_write_t, 2> writes{};
  std::array<std::array<std::uint8_t, 64>, 2> out{};
  int sent = 0;
  int write_pending = 0;
  bool wrote = false;     // the last message we send has been written
  bool verified = false;  // the peer's HMAC checked out
  std::array<std::uint8_t, 64> in{};
  std::size_t want = 0;
  std::size_t got = 0;
  std::array<std::uint8_t, kNonce> nonce_acceptor{};
  std::array<std::uint8_t, kNonce> nonce_connector{};
  AuthTransport* owner = nullptr;
};

AuthTransport::AuthTransport(uv_loop_t* loop, raft_uv_transport* inner, tls::ClusterKey key)
    : loop_(loop), inner_(inner), key_(std::move(key)) {
  inner_->data = this;
  outer_.impl = this;
  outer_.init = Init;
  outer_.listen = Listen;
  outer_.connect = Connect;
  outer_.close = Close;
}

int AuthTransport::Init(raft_uv_transport* t, raft_id id, const char* address) {
  auto* self = static_cast<AuthTransport*>(t->impl);
  self->id_ = id;
  int rv = self->inner_->init(self->inner_, id, address);
  if (rv != 0) std::memcpy(t->errmsg, self->inner_->errmsg, sizeof t->errmsg);
  return rv;
}

int AuthTransport::Listen(raft_uv_transport* t, raft_uv_accept_cb cb) {
  auto* self = static_cast<AuthTransport*>(t->impl);
  self->accept_cb_ = cb;
  int rv = self->inner_->listen(self->inner_, Accepted);
  if (rv != 0) std::memcpy(t->errmsg, self->inner_->errmsg, sizeof t->errmsg);
  return rv;
}

int AuthTransport::Connect(raft_uv_transport* t, raft_uv_connect* req, raft_id id,
                           const char* address, raft_uv_connect_cb cb) {
  auto* self = static_cast<AuthTransport*>(t->impl);
  auto* h = new Handshake;
  h->owner = self;
  h->connector = true;
  h->peer_id = id;
  h->peer_address = address;
  h->outer_req = req;
  h->outer_cb = cb;
  h->inner_req.data = h;
  int rv = self->inner_->connect(self->inner_, &h->inner_req, id, address, Connected);
  if (rv != 0) {
    std::memcpy(t->errmsg, self->inner_->errmsg, sizeof t->errmsg);
    delete h;
    return rv;
  }
  self->handshakes_.insert(h);
  return 0;
}

void AuthTransport::Connected(raft_uv_connect* req, uv_stream_t* stream, int status) {
  auto* h = static_cast<Handshake*>(req->data);
  AuthTransport* self = h->owner;
  if (status != 0 || self->closing_) {
    if (stream != nullptr) uv_close(reinterpret_cast<uv_handle_t*>(stream), FreeStream);
    h->outer_cb(h->outer_req, nullptr, status != 0 ? status : RAFT_CANCELED);
    h->stage = Handshake::Stage::kDone;
    self->MaybeDelete(h);
    return;
  }
  h->stage = Handshake::Stage::kChallenge;
  h->want = kMagic.size() + kNonce;
  self->Begin(h, stream);
}

void AuthTransport::Accepted(raft_uv_transport* inner, raft_id id, const char* address,
                             uv_stream_t* stream) {
  auto* self = static_cast<AuthTransport*>(inner->data);
  if (self->closing_) {
    uv_close(reinterpret_cast<uv_handle_t*>(stream), FreeStream);
    return;
  }
  auto* h = new Handshake;
  h->owner = self;
  h->peer_id = id;
  h->peer_address = address;
  self->handshakes_.insert(h);
  h->stage = Handshake::Stage::kResponse;
  h->want = kNonce + kMac;
  self->Begin(h, stream);
  if (h->stage != Handshake::Stage::kResponse) return;  // failed at once
  RAND_bytes(h->nonce_acceptor.data(), kNonce);
  std::array<std::uint8_t, kMagic.size() + kNonce> challenge;
  std::memcpy(challenge.data(), kMagic.data(), kMagic.size());
  std::memcpy(challenge.data() + kMagic.size(), h->nonce_acceptor.data(), kNonce);
  self->Send(h, challenge.data(), challenge.size());
}

void AuthTransport::Begin(Handshake* h, uv_stream_t* stream) {
  h->stream = stream;
  stream->data = h;
  uv_timer_init(loop_, &h->timer);
  h->timer.data = h;
  h->timer_open = true;
  uv_timer_start(
      &h->timer,
      [](uv_timer_t* timer) {
        auto* hs = static_cast<Handshake*>(timer->data);
        hs->owner->Fail(hs, "no cluster-key handshake within 5 s", RAFT_NOCONNECTION);
      },
      kTimeoutMs, 0);
  int rv = uv_read_start(
      stream,
      [](uv_handle_t* handle, std::size_t, uv_buf_t* buf) {
        auto* hs = static_cast<Handshake*>(handle->data);
        // Never more than the message expected: the bytes after it are Raft's.
        buf->base = reinterpret_cast<char*>(hs->in.data() + hs->got);
        buf->len = hs->want - hs->got;
      },
      [](uv_stream_t* s, ssize_t n, const uv_buf_t*) {
        auto* hs = static_cast<Handshake*>(s->data);
        if (n == 0) return;
        if (n < 0) {
          hs->owner->Fail(hs,
                          n == UV_EOF
                              ? "the peer closed the connection during the cluster-key "
                                "handshake (does it have the same -cluster-key?)"
                              : std::string("read failed: ") + uv_strerror(static_cast<int>(n)),
                          RAFT_NOCONNECTION);
          return;
        }
        hs->got += static_cast<std::size_t>(n);
        if (hs->got == hs->want) hs->owner->Received(hs);
      });
  if (rv != 0) Fail(h, std::string("cannot read: ") + uv_strerror(rv), RAFT_NOCONNECTION);
}

tls::Mac AuthTransport::Proof(std::string_view label, const Handshake& h) const {
  std::string connector = std::to_string(h.connector ? id_ : h.peer_id);
  std::string acceptor = std::to_string(h.connector ? h.peer_id : id_);
  return key_.Sign(label, {View(h.nonce_acceptor), View(h.nonce_connector), connector, acceptor});
}

void AuthTransport::Received(Handshake* h) {
  using Stage = Handshake::Stage;
  h->got = 0;
  if (h->stage == Stage::kChallenge) {
    if (std::memcmp(h->in.data(), kMagic.data(), kMagic.size()) != 0) {
      Fail(h, "the peer does not speak the cluster-key handshake (is -cluster-key set there?)",
           RAFT_NOCONNECTION);
      return;
    }
    std::memcpy(h->nonce_acceptor.data(), h->in.data() + kMagic.size(), kNonce);
    RAND_bytes(h->nonce_connector.data(), kNonce);
    tls::Mac mac = Proof("raft-connect", *h);
    std::array<std::uint8_t, kNonce + kMac> response;
    std::memcpy(response.data(), h->nonce_connector.data(), kNonce);
    std::memcpy(response.data() + kNonce, mac.data(), kMac);
    h->stage = Stage::kProof;
    h->want = kMac;
    Send(h, response.data(), response.size());
  } else if (h->stage == Stage::kResponse) {
    uv_read_stop(h->stream);
    std::memcpy(h->nonce_connector.data(), h->in.data(), kNonce);
    tls::Mac got;
    std::memcpy(got.data(), h->in.data() + kNonce, kMac);
    if (!tls::ClusterKey::Equal(got, Proof("raft-connect", *h))) {
      Fail(h, "wrong cluster key", RAFT_NOCONNECTION);
      return;
    }
    h->verified = true;
    h->stage = Stage::kSendingProof;
    tls::Mac mac = Proof("raft-accept", *h);
    Send(h, mac.data(), mac.size());
  } else if (h->stage == Stage::kProof) {
    uv_read_stop(h->stream);
    tls::Mac got;
    std::memcpy(got.data(), h->in.data(), kMac);
    if (!tls::ClusterKey::Equal(got, Proof("raft-accept", *h))) {
      Fail(h, "wrong cluster key", RAFT_NOCONNECTION);
      return;
    }
    h->verified = true;
    if (h->wrote) Succeed(h);
  }
}

void AuthTransport::Send(Handshake* h, const std::uint8_t* data, std::size_t n) {
  int i = h->sent++;
  std::memcpy(h->out[i].data(), data, n);
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(h->out[i].data()), static_cast<unsigned>(n));
  h->writes[i].data = h;
  int rv = uv_write(&h->writes[i], h->stream, &buf, 1, [](uv_write_t* req, int status) {
    auto* hs = static_cast<Handshake*>(req->data);
    --hs->write_pending;
    AuthTransport* self = hs->owner;
    if (hs->stage == Handshake::Stage::kDone) {
      self->MaybeDelete(hs);
      return;
    }
    if (status != 0) {
      self->Fail(hs, std::string("write failed: ") + uv_strerror(status), RAFT_NOCONNECTION);
      return;
    }
    if (req == &hs->writes[hs->connector ? 0 : 1]) {
      hs->wrote = true;
      if (hs->verified) self->Succeed(hs);
    }
  });
  if (rv != 0) {
    Fail(h, std::string("write failed: ") + uv_strerror(rv), RAFT_NOCONNECTION);
    return;
  }
  ++h->write_pending;
}

void AuthTransport::Succeed(Handshake* h) {
  uv_stream_t* stream = h->stream;
  uv_read_stop(stream);
  stream->data = nullptr;
  h->stream = nullptr;
  Finish(h);
  if (h->connector) {
    h->outer_cb(h->outer_req, stream, 0);
  } else {
    accept_cb_(&outer_, h->peer_id, h->peer_address.c_str(), stream);
  }
}

void AuthTransport::Fail(Handshake* h, const std::string& why, int status) {
  if (h->stage == Handshake::Stage::kDone) return;
  std::string peer = h->peer_address + " (Raft ID " + std::to_string(h->peer_id) + ")";
  if (status != RAFT_CANCELED) {
    // The peer's address is whatever the connecting side claims: no per-peer memory, one
    // line per 10 s in all.
    server::RateLimitedWarn("raft: {} connection with {} refused: {}",
                            h->connector ? "outgoing" : "incoming", peer, why);
  }
  uv_read_stop(h->stream);
  uv_close(reinterpret_cast<uv_handle_t*>(h->stream), FreeStream);
  h->stream = nullptr;
  Finish(h);
  if (h->connector) h->outer_cb(h->outer_req, nullptr, status);
}

void AuthTransport::Finish(Handshake* h) {
  h->stage = Handshake::Stage::kDone;
  if (h->timer_open) {
    uv_timer_stop(&h->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&h->timer), [](uv_handle_t* timer) {
      auto* hs = static_cast<Handshake*>(timer->data);
      hs->timer_open = false;
      hs->owner->MaybeDelete(hs);
    });
  }
}

void AuthTransport::MaybeDelete(Handshake* h) {
  if (h->timer_open || h->write_pending > 0 || h->stage != Handshake::Stage::kDone) return;
  handshakes_.erase(h);
  delete h;
  MaybeClosed();
}

void AuthTransport::Close(raft_uv_transport* t, raft_uv_transport_close_cb cb) {
  auto* self = static_cast<AuthTransport*>(t->impl);
  self->closing_ = true;
  self->close_cb_ = cb;
  // Handshakes still connecting are cancelled by the TCP transport (Connected runs).
  std::set<Handshake*> running = self->handshakes_;
  for (Handshake* h : running) {
    if (h->stream != nullptr) self->Fail(h, "closing", RAFT_CANCELED);
  }
  self->inner_->close(self->inner_, InnerClosed);
}

void AuthTransport::InnerClosed(raft_uv_transport* inner) {
  auto* self = static_cast<AuthTransport*>(inner->data);
  self->inner_closed_ = true;
  self->MaybeClosed();
}

void AuthTransport::MaybeClosed() {
  if (!closing_ || !inner_closed_ || !handshakes_.empty() || close_cb_ == nullptr) return;
  raft_uv_transport_close_cb cb = close_cb_;
  close_cb_ = nullptr;
  cb(&outer_);
}

}  // namespace concierge::raft
