// Raft traffic between servers, authenticated: a raft_uv_transport that wraps libraft's TCP
// transport and, on every new connection and before Raft sees it, runs a mutual
// challenge-response on the cluster key (tls/cluster_key.h):
//
//   acceptor -> connector  "CNCRGRA1" + 32-byte random nonce S
//   connector -> acceptor  32-byte random nonce C + HMAC(key, "raft-connect", S, C, ids)
//   acceptor -> connector  HMAC(key, "raft-accept", S, C, ids)
//
// where ids are the connector's and the acceptor's Raft IDs. Each side hands the connection
// to Raft only once the other side's HMAC checked out; otherwise it closes it (and logs
// which peer failed, once per address). A handshake not done within 5 s is abandoned.
// Neither side sends anything more before it has the last message, so no Raft bytes are
// read by the handshake. What this protects, and what not: docs/clustering.md.
#pragma once

#include <array>
#include <cstdint>
#include <set>
#include <string>

extern "C" {
#include <raft.h>
#include <raft/uv.h>
}

#include "tls/cluster_key.h"

namespace concierge::raft {

class AuthTransport {
 public:
  // `inner` is an initialised TCP transport (raft_uv_tcp_init) that outlives this object
  // and that only this object uses from now on.
  AuthTransport(uv_loop_t* loop, raft_uv_transport* inner, tls::ClusterKey key);
  AuthTransport(const AuthTransport&) = delete;
  AuthTransport& operator=(const AuthTransport&) = delete;

  // What raft_uv_init is given.
  raft_uv_transport* transport() { return &outer_; }

  static constexpr std::uint64_t kTimeoutMs = 5000;

 private:
  struct Handshake;

  static int Init(raft_uv_transport* t, raft_id id, const char* address);
  static int Listen(raft_uv_transport* t, raft_uv_accept_cb cb);
  static int Connect(raft_uv_transport* t, raft_uv_connect* req, raft_id id, const char* address,
                     raft_uv_connect_cb cb);
  static void Close(raft_uv_transport* t, raft_uv_transport_close_cb cb);
  static void Accepted(raft_uv_transport* inner, raft_id id, const char* address,
                       uv_stream_t* stream);
  static void Connected(raft_uv_connect* req, uv_stream_t* stream, int status);
  static void InnerClosed(raft_uv_transport* inner);

  // The handshake's steps.
  void Begin(Handshake* h, uv_stream_t* stream);
  void Received(Handshake* h);
  void Send(Handshake* h, const std::uint8_t* data, std::size_t n);
  void Succeed(Handshake* h);
  void Fail(Handshake* h, const std::string& why, int status);
  void Finish(Handshake* h);
  void MaybeDelete(Handshake* h);
  void MaybeClosed();
  tls::Mac Proof(std::string_view label, const Handshake& h) const;

  uv_loop_t* loop_;
  raft_uv_transport* inner_;
  raft_uv_transport outer_{};
  tls::ClusterKey key_;
  raft_id id_ = 0;
  raft_uv_accept_cb accept_cb_ = nullptr;
  raft_uv_transport_close_cb close_cb_ = nullptr;
  bool closing_ = false;
  bool inner_closed_ = false;
  std::set<Handshake*> handshakes_;
};

}  // namespace concierge::raft
