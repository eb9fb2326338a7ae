// The authenticated Raft transport over libraft's TCP one, driven directly (no Raft): two
// transports on one libuv loop and real loopback sockets. The loop runs until the
// callbacks under test have fired (bounded by a timer), never sleeps.
#include "raft/auth_transport.h"

#include <gtest/gtest.h>

#include <string>

#include "free_address.h"

namespace concierge::raft {
namespace {

constexpr std::string_view kKey = "Yl9kW8aPQVqJq0Ui3g9nYw0c7v5V6h8kq1pR2sT3uE4=";
constexpr std::string_view kOtherKey = "b3RoZXIta2V5LW90aGVyLWtleS1vdGhlci1rZXktISE=";

struct Side {
  // libraft's transport keeps the pointer it is given at init, not a copy.
  std::string address;
  raft_uv_transport tcp{};
  std::unique_ptr<AuthTransport> auth;
  bool closing = false;
  bool closed = false;
  bool released = false;
};

class AuthTransportTest : public ::testing::Test {
 public:
  void SetUp() override { ASSERT_EQ(uv_loop_init(&loop_), 0); }
  void TearDown() override {
    CloseAll();
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // Closes both transports (once) and runs the loop until every handle is gone.
  void CloseAll() {
    for (Side* side : {&acceptor_, &connector_}) {
      if (!side->auth || side->closing) continue;
      side->closing = true;
      raft_uv_transport* t = side->auth->transport();
      t->data = side;
      t->close(t, [](raft_uv_transport* tr) { static_cast<Side*>(tr->data)->closed = true; });
    }
    RunUntil([this] {
      return (!acceptor_.auth || acceptor_.closed) && (!connector_.auth || connector_.closed);
    });
    for (Side* side : {&acceptor_, &connector_}) {
      if (side->auth && !side->released) {
        raft_uv_tcp_close(&side->tcp);
        side->released = true;
      }
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

  void Make(Side* side, std::string_view key, raft_id id, const std::string& address) {
    ASSERT_EQ(raft_uv_tcp_init(&side->tcp, &loop_), 0);
    side->auth =
        std::make_unique<AuthTransport>(&loop_, &side->tcp, tls::ClusterKey::Parse(key).value());
    side->address = address;
    raft_uv_transport* t = side->auth->transport();
    ASSERT_EQ(t->init(t, id, side->address.c_str()), 0);
  }

  template <class Done>
  void RunUntil(Done done) {
    uv_timer_t limit;
    uv_timer_init(&loop_, &limit);
    bool expired = false;
    limit.data = &expired;
    uv_timer_start(
        &limit, [](uv_timer_t* t) { *static_cast<bool*>(t->data) = true; },
        2 * AuthTransport::kTimeoutMs, 0);
    while (!done() && !expired) uv_run(&loop_, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&limit), nullptr);
    uv_run(&loop_, UV_RUN_NOWAIT);
    ASSERT_FALSE(expired) << "timed out";
  }

  // Connects with `key` to an acceptor with kKey; true if both sides handed the connection
  // to Raft, false if the connector was refused (and the acceptor never accepted).
  bool Connect(std::string_view key) {
    std::string address = FreeAddress();
    Make(&acceptor_, kKey, 1, address);
    Make(&connector_, key, 2, FreeAddress());
    raft_uv_transport* a = acceptor_.auth->transport();
    a->data = this;
    EXPECT_EQ(
        a->listen(a,
                  [](raft_uv_transport* t, raft_id id, const char* from, uv_stream_t* stream) {
                    auto* self = static_cast<AuthTransportTest*>(t->data);
                    EXPECT_EQ(id, 2u);
                    EXPECT_NE(std::string(from), "");
                    self->accepted_ = true;
                    uv_close(reinterpret_cast<uv_handle_t*>(stream),
                             [](uv_handle_t* h) { raft_free(h); });
                  }),
        0);
    raft_uv_connect req{};
    req.data = this;
    raft_uv_transport* c = connector_.auth->transport();
    EXPECT_EQ(c->connect(c, &req, 1, address.c_str(),
                         [](raft_uv_connect* r, uv_stream_t* stream, int status) {
                           auto* self = static_cast<AuthTransportTest*>(r->data);
                           self->connect_status_ = status;
                           if (stream != nullptr) {
                             uv_close(reinterpret_cast<uv_handle_t*>(stream),
                                      [](uv_handle_t* h) { raft_free(h); });
                           }
                         }),
              0);
    RunUntil([this] { return connect_status_ != kPending; });
    if (connect_status_ == 0) RunUntil([this] { return accepted_; });
    return connect_status_ == 0 && accepted_;
  }

  static constexpr int kPending = -12345;
  uv_loop_t loop_{};
  Side acceptor_;
  Side connector_;
  bool accepted_ = false;
  int connect_status_ = kPending;
};

TEST_F(AuthTransportTest, TheSameKeyConnects) { EXPECT_TRUE(Connect(kKey)); }

TEST_F(AuthTransportTest, AnotherKeyIsRefusedOnBothSides) {
  EXPECT_FALSE(Connect(kOtherKey));
  EXPECT_NE(connect_status_, 0);
  EXPECT_FALSE(accepted_);
}

TEST_F(AuthTransportTest, ClosingWithAHandshakeInFlightCancelsIt) {
  std::string address = FreeAddress();
  Make(&acceptor_, kKey, 1, address);
  Make(&connector_, kKey, 2, FreeAddress());
  raft_uv_transport* a = acceptor_.auth->transport();
  ASSERT_EQ(a->listen(a,
                      [](raft_uv_transport*, raft_id, const char*, uv_stream_t* stream) {
                        uv_close(reinterpret_cast<uv_handle_t*>(stream),
                                 [](uv_handle_t* h) { raft_free(h); });
                      }),
            0);
  raft_uv_connect req{};
  req.data = this;
  raft_uv_transport* c = connector_.auth->transport();
  ASSERT_EQ(c->connect(c, &req, 1, address.c_str(),
                       [](raft_uv_connect* r, uv_stream_t* stream, int status) {
                         static_cast<AuthTransportTest*>(r->data)->connect_status_ = status;
                         if (stream != nullptr) {
                           uv_close(reinterpret_cast<uv_handle_t*>(stream),
                                    [](uv_handle_t* h) { raft_free(h); });
                         }
                       }),
            0);
  // Both transports close at once; the connect callback must still run, once.
  uv_run(&loop_, UV_RUN_NOWAIT);
  CloseAll();
  EXPECT_NE(connect_status_, kPending);
}

}  // namespace
}  // namespace concierge::raft
