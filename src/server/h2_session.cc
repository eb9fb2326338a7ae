#include "server/h2_session.h"

#include <nghttp2/nghttp2.h>

#include <charconv>
#include <cstring>
#include <vector>

namespace concierge::server {

struct H2Callbacks {
  static H2Session& Of(void* user) { return *static_cast<H2Session*>(user); }

  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const std::uint8_t* name,
                      std::size_t namelen, const std::uint8_t* value, std::size_t valuelen,
                      std::uint8_t, void* user) {
    H2Session& s = Of(user);
    if (frame->hd.stream_id != s.stream_id_) return 0;
    std::string_view n(reinterpret_cast<const char*>(name), namelen);
    std::string_view v(reinterpret_cast<const char*>(value), valuelen);
    if (n == ":status") {
      std::from_chars(v.data(), v.data() + v.size(), s.http_status_);
    } else if (n == "grpc-status") {
      int code = -1;
      std::from_chars(v.data(), v.data() + v.size(), code);
      s.grpc_status_ = code;
    } else if (n == "grpc-message") {
      s.grpc_message_ = std::string(v.substr(0, 1024));
    }
    return 0;
  }

  static int OnData(nghttp2_session*, std::uint8_t, std::int32_t stream_id,
                    const std::uint8_t* data, std::size_t len, void* user) {
    H2Session& s = Of(user);
    if (stream_id != s.stream_id_) return 0;
    if (s.data_.size() + len > H2Session::kMaxData) {
      s.error_ = "the response is larger than " + std::to_string(H2Session::kMaxData) + " bytes";
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    s.data_.append(reinterpret_cast<const char*>(data), len);
    return 0;
  }

  static int OnStreamClose(nghttp2_session*, std::int32_t stream_id, std::uint32_t error_code,
                           void* user) {
    H2Session& s = Of(user);
    if (stream_id != s.stream_id_) return 0;
    s.closed_ = true;
    if (error_code != NGHTTP2_NO_ERROR) s.stream_error_ = nghttp2_http2_strerror(error_code);
    return 0;
  }

  static int OnFrame(nghttp2_session*, const nghttp2_frame* frame, void* user) {
    H2Session& s = Of(user);
    if (frame->hd.type == NGHTTP2_PING && (frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) {
      s.ping_acked_ = true;
    }
    return 0;
  }

  static ssize_t ReadBody(nghttp2_session*, std::int32_t, std::uint8_t* buf, std::size_t length,
                          std::uint32_t* flags, nghttp2_data_source*, void* user) {
    H2Session& s = Of(user);
    const std::size_t n = std::min(length, s.request_.body.size() - s.body_sent_);
    std::memcpy(buf, s.request_.body.data() + s.body_sent_, n);
    s.body_sent_ += n;
    if (s.body_sent_ == s.request_.body.size()) *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(n);
  }
};

H2Session::H2Session(Request request) : request_(std::move(request)) { Open(); }

H2Session::H2Session() : ping_(true) { Open(); }

H2Session::~H2Session() { nghttp2_session_del(session_); }

void H2Session::Open() {
  nghttp2_session_callbacks* callbacks = nullptr;
  nghttp2_session_callbacks_new(&callbacks);
  nghttp2_session_callbacks_set_on_header_callback(callbacks, H2Callbacks::OnHeader);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, H2Callbacks::OnData);
  nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, H2Callbacks::OnStreamClose);
  nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, H2Callbacks::OnFrame);
  nghttp2_session_client_new(&session_, callbacks, this);
  nghttp2_session_callbacks_del(callbacks);
  nghttp2_settings_entry settings[] = {{NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 1},
                                       {NGHTTP2_SETTINGS_ENABLE_PUSH, 0}};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings, 2);
  if (ping_) {
    nghttp2_submit_ping(session_, NGHTTP2_FLAG_NONE, nullptr);
    return;
  }
  auto nv = [](std::string_view name, std::string_view value) {
    return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                      reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                      value.size(), NGHTTP2_NV_FLAG_NONE};
  };
  const nghttp2_nv headers[] = {
      nv(":method", "POST"),
      nv(":scheme", request_.scheme),
      nv(":path", request_.path),
      nv(":authority", request_.authority),
      nv("content-type", "application/grpc"),
      nv("te", "trailers"),
      nv("user-agent", "Concierge Health Check"),
  };
  nghttp2_data_provider body{};
  body.read_callback = H2Callbacks::ReadBody;
  stream_id_ = nghttp2_submit_request(session_, nullptr, headers, std::size(headers), &body, this);
  if (stream_id_ < 0) error_ = nghttp2_strerror(stream_id_);
}

std::string H2Session::Pending() {
  std::string out;
  for (;;) {
    const std::uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      error_ = nghttp2_strerror(static_cast<int>(n));
      break;
    }
    if (n == 0) break;
    out.append(reinterpret_cast<const char*>(data), static_cast<std::size_t>(n));
  }
  return out;
}

bool H2Session::Feed(const char* data, std::size_t size) {
  ssize_t n = nghttp2_session_mem_recv(session_, reinterpret_cast<const std::uint8_t*>(data), size);
  if (n < 0) {
    if (error_.empty()) error_ = nghttp2_strerror(static_cast<int>(n));
    return false;
  }
  return true;
}

bool H2Session::done() const { return ping_ ? ping_acked_ : closed_; }

bool H2Session::want_read() const { return nghttp2_session_want_read(session_) != 0; }

}  // namespace concierge::server
