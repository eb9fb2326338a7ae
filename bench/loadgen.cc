// loadgen: the scale harness's client (issue 9). One thread, one epoll loop, many keep-alive
// HTTP/1.1 connections, several requests in flight per connection; the same client drives
// Concierge, etcd (its HTTP/JSON gateway) and the trivial floor server. ZooKeeper is driven
// through its single-threaded C client (libzookeeper_st) in a poll loop of its own, when the
// library was found at build time.
//
//   loadgen MODE --target concierge|etcd|zookeeper|trivial --addr 127.0.0.1:PORT [options]
//
// Modes (each prints what it measured as one JSON object on stdout, progress on stderr):
//   register   register --n instances (ID, name, 2 tags, address, port, 1 meta, TTL check)
//   heartbeat  register --n instances, then heartbeat each every --period seconds (or at
//              --rate per second, 0 = as fast as the server answers) for --duration seconds
//   watch      park --watchers blocking watchers on one service, change an instance's status
//              --rounds times, and time how long each watcher took to hear of it
//   expiry     register --n instances with a --ttl, heartbeat them every ttl/4, stop --stop of
//              them one by one, and time when a watcher saw each one fail, past its deadline;
//              with --background K (or --service NAME) in a big service, watched with --delta
// Run `loadgen --help` for every option. See BENCHMARKS.md ("Scale") for what is measured.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#ifdef LOADGEN_ZOOKEEPER
#include <zookeeper/zookeeper.h>
#endif

namespace {

// ---------------------------------------------------------------------------------------------
// Time, statistics, small helpers

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "loadgen: %s\n", message.c_str());
  std::exit(1);
}

void Log(const std::string& message) {
  std::fprintf(stderr, "loadgen: %s\n", message.c_str());
  std::fflush(stderr);
}

// Latency samples in nanoseconds; percentiles by sorting once at the end.
struct Samples {
  std::vector<int64_t> ns;
  int64_t longest_gap = 0;     // RunRequests: the longest time without an answer (a stall)
  double longest_gap_end = 0;  // ... and when it ended, Unix time (to match a server's log)
  void Add(int64_t v) { ns.push_back(v); }
  double Percentile(double p) {
    if (ns.empty()) return 0;
    std::sort(ns.begin(), ns.end());
    size_t i = static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(ns.size())));
    return static_cast<double>(ns[std::min(ns.size() - 1, i == 0 ? 0 : i - 1)]) / 1e6;
  }
  // "p50_ms":..,"p99_ms":..,"max_ms":.. (no braces), for the JSON summaries.
  std::string Json(const std::string& prefix = "") {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "\"%sp50_ms\":%.3f,\"%sp99_ms\":%.3f,\"%smax_ms\":%.3f,"
                  "\"%ssamples\":%zu",
                  prefix.c_str(), Percentile(50), prefix.c_str(), Percentile(99), prefix.c_str(),
                  Percentile(100), prefix.c_str(), ns.size());
    return buf;
  }
};

// CPU time (user + system) of a process, in seconds, from /proc/PID/stat; and its RSS.
double ProcessCpuSeconds(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(f, line)) return -1;
  // Fields after the command name, which is in parentheses and may hold spaces.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

long ProcessRssKiB(int pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
  }
  return -1;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string Unbase64(std::string_view in) {
  std::string out;
  uint32_t v = 0;
  int bits = 0;
  for (char c : in) {
    int d = c >= 'A' && c <= 'Z'   ? c - 'A'
            : c >= 'a' && c <= 'z' ? c - 'a' + 26
            : c >= '0' && c <= '9' ? c - '0' + 52
            : c == '+'             ? 62
            : c == '/'             ? 63
                                   : -1;
    if (d < 0) continue;
    v = (v << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((v >> bits) & 0xff);
    }
  }
  return out;
}

// The value of "key":"VALUE" or "key":NUMBER at or after `from`; empty if absent.
std::string_view JsonField(std::string_view body, std::string_view key, size_t from = 0) {
  std::string pattern = "\"" + std::string(key) + "\":";
  size_t at = body.find(pattern, from);
  if (at == std::string_view::npos) return {};
  at += pattern.size();
  if (at < body.size() && body[at] == '"') {
    size_t end = body.find('"', at + 1);
    return end == std::string_view::npos ? std::string_view{} : body.substr(at + 1, end - at - 1);
  }
  size_t end = body.find_first_of(",}", at);
  return body.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at);
}

// HTTP header names are case-insensitive; `lower` is in lower case.
bool HeaderIs(std::string_view name, std::string_view lower) {
  return name.size() == lower.size() &&
         std::equal(name.begin(), name.end(), lower.begin(),
                    [](char a, char b) { return (a >= 'A' && a <= 'Z' ? a + 32 : a) == b; });
}

uint64_t ParseNumber(std::string_view text, int base = 10) {
  uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v, base);
  return v;
}

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  std::string mode;
  std::string target = "concierge";
  std::string host = "127.0.0.1";
  int port = 0;
  long n = 1000;             // instances
  std::string prefix = "i";  // instance IDs are PREFIX-NUMBER
  long per_service = 100;    // instances per service name
  double ttl = 30;           // seconds
  int conns = 64;            // connections for requests
  int depth = 1;             // requests in flight per connection
  double period = 10;        // heartbeat period per instance, seconds
  double rate = -1;          // heartbeats per second; -1 = n / period; 0 = unpaced
  double duration = 10;      // measured seconds
  double warmup = 1;         // unmeasured seconds before
  int runs = 1;              // measured windows (heartbeat)
  int batch = 0;             // check IDs per batched heartbeat request; 0 = one per request
  bool no_register = false;  // the instances are registered already
  long watchers = 1000;
  int rounds = 5;
  long stop = 100;         // instances the expiry mode stops
  double stop_gap = 0.05;  // seconds between two stops
  long background = 0;     // expiry: long-TTL instances beside them in the same service
  std::string service;     // every instance in this service (instead of PREFIX-svc-K)
  bool delta = false;      // expiry: watch through the delta stream, not a blocking query
  int server_pid = 0;      // report this process's CPU and RSS
};

void Usage() {
  std::fputs(
      "usage: loadgen MODE [options]      MODE: register | heartbeat | watch | expiry\n"
      "  --target T        concierge (default), etcd, zookeeper, trivial\n"
      "  --addr HOST:PORT  the server (loopback)\n"
      "  --n N             instances (1000)\n"
      "  --prefix P        instance IDs are P-0 .. P-(N-1) (i)\n"
      "  --per-service K   instances per service name (100)\n"
      "  --ttl SECONDS     TTL of each instance's check / lease / session (30)\n"
      "  --conns C         connections for requests (64)\n"
      "  --depth D         requests in flight per connection (1)\n"
      "  --period S        heartbeat: each instance beats every S seconds (10)\n"
      "  --rate R          heartbeat: beats per second instead (0 = as fast as answered)\n"
      "  --duration S      heartbeat: measured seconds (10)\n"
      "  --warmup S        heartbeat: seconds before measuring (1)\n"
      "  --runs R          heartbeat: R measured windows in a row; the median rate (1)\n"
      "  --batch B         heartbeat: B check IDs per PUT /v1/concierge/heartbeats (0 = per "
      "check)\n"
      "  --no-register     heartbeat: the instances are registered already (concierge, trivial)\n"
      "  --watchers W      watch: blocking watchers (1000)\n"
      "  --rounds R        watch: status changes (5)\n"
      "  --stop K          expiry: instances to stop heartbeating (100)\n"
      "  --stop-gap S      expiry: seconds between two stops (0.05)\n"
      "  --background K    expiry: first register K more instances (1 h TTL, no heartbeats) in\n"
      "                    the same service, numbered N .. N+K-1: a big service (0)\n"
      "  --service NAME    every instance in service NAME (expiry: join an existing service)\n"
      "  --delta           expiry: the watcher follows GET /v1/concierge/delta/service/NAME\n"
      "                    instead of a blocking /v1/health/service/NAME?passing\n"
      "  --server-pid PID  report the server's CPU (during the measured phase) and RSS\n",
      stderr);
}

Options ParseOptions(int argc, char** argv) {
  Options o;
  if (argc < 2 || std::string_view(argv[1]) == "--help") {
    Usage();
    std::exit(argc < 2 ? 2 : 0);
  }
  o.mode = argv[1];
  auto number = [](std::string_view flag, const char* text) {
    char* end = nullptr;
    double v = std::strtod(text, &end);
    if (end == text || *end != '\0' || !std::isfinite(v) || v < 0) {
      Die(std::string(flag) + ": expected a non-negative number, got \"" + text + "\"");
    }
    return v;
  };
  for (int i = 2; i < argc; ++i) {
    std::string_view flag = argv[i];
    if (flag == "--no-register") {
      o.no_register = true;
      continue;
    }
    if (flag == "--delta") {
      o.delta = true;
      continue;
    }
    if (i + 1 >= argc) Die(std::string(flag) + ": missing its value (see --help)");
    const char* v = argv[++i];
    if (flag == "--target")
      o.target = v;
    else if (flag == "--addr") {
      std::string_view a = v;
      size_t colon = a.rfind(':');
      if (colon == std::string_view::npos)
        Die("--addr: expected HOST:PORT, got \"" + std::string(a) + "\"");
      o.host = std::string(a.substr(0, colon));
      o.port = static_cast<int>(number("--addr port", std::string(a.substr(colon + 1)).c_str()));
    } else if (flag == "--n")
      o.n = static_cast<long>(number(flag, v));
    else if (flag == "--prefix")
      o.prefix = v;
    else if (flag == "--per-service")
      o.per_service = std::max(1L, static_cast<long>(number(flag, v)));
    else if (flag == "--ttl")
      o.ttl = number(flag, v);
    else if (flag == "--conns")
      o.conns = std::max(1, static_cast<int>(number(flag, v)));
    else if (flag == "--depth")
      o.depth = std::max(1, static_cast<int>(number(flag, v)));
    else if (flag == "--period")
      o.period = number(flag, v);
    else if (flag == "--rate")
      o.rate = number(flag, v);
    else if (flag == "--duration")
      o.duration = number(flag, v);
    else if (flag == "--warmup")
      o.warmup = number(flag, v);
    else if (flag == "--runs")
      o.runs = std::max(1, static_cast<int>(number(flag, v)));
    else if (flag == "--batch")
      o.batch = static_cast<int>(number(flag, v));
    else if (flag == "--watchers")
      o.watchers = std::max(1L, static_cast<long>(number(flag, v)));
    else if (flag == "--rounds")
      o.rounds = std::max(1, static_cast<int>(number(flag, v)));
    else if (flag == "--stop")
      o.stop = static_cast<long>(number(flag, v));
    else if (flag == "--stop-gap")
      o.stop_gap = number(flag, v);
    else if (flag == "--background")
      o.background = static_cast<long>(number(flag, v));
    else if (flag == "--service")
      o.service = v;
    else if (flag == "--server-pid")
      o.server_pid = static_cast<int>(number(flag, v));
    else
      Die("unknown option " + std::string(flag) + " (see --help)");
  }
  if (o.port <= 0 || o.port > 65535) Die("--addr HOST:PORT is required");
  if (o.target != "concierge" && o.target != "etcd" && o.target != "zookeeper" &&
      o.target != "trivial") {
    Die("--target: expected concierge, etcd, zookeeper or trivial, got \"" + o.target + "\"");
  }
  if (o.rate < 0) o.rate = o.period > 0 ? static_cast<double>(o.n) / o.period : 0;
  if (o.stop > o.n) Die("--stop cannot be larger than --n");
  return o;
}

// One simulated instance's record, the same for every system.
std::string InstanceId(const Options& o, long i) { return o.prefix + "-" + std::to_string(i); }
std::string ServiceName(const Options& o, long i) {
  if (!o.service.empty()) return o.service;
  return o.prefix + "-svc-" + std::to_string(i / o.per_service);
}
std::string RegistrationJson(const Options& o, long i, bool with_check) {
  char address[32];
  std::snprintf(address, sizeof address, "10.%ld.%ld.%ld", (i >> 16) & 255, (i >> 8) & 255,
                i & 255);
  std::string body = "{\"ID\":\"" + InstanceId(o, i) + "\",\"Name\":\"" + ServiceName(o, i) +
                     "\",\"Tags\":[\"primary\",\"v1\"],\"Address\":\"" + address +
                     "\",\"Port\":8080,\"Meta\":{\"version\":\"1.4.2\"}";
  if (with_check) {
    body += ",\"Check\":{\"TTL\":\"" + std::to_string(std::llround(o.ttl * 1000)) +
            "ms\",\"Status\":\"passing\"}";
  }
  return body + "}";
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 client connections on one epoll loop

struct Response {
  int status = 0;
  uint64_t index = 0;  // X-Consul-Index
  std::string_view body;
  int64_t sent_ns = 0;
  uint64_t tag = 0;
};

class Loop;

class Conn {
 public:
  using Handler = std::function<void(Conn&, const Response&)>;
  Conn(Loop* loop, int fd, Handler handler) : loop_(loop), fd_(fd), handler_(std::move(handler)) {}
  ~Conn() {
    if (fd_ >= 0) ::close(fd_);
  }
  // Queues a request; `tag` comes back with its response. Responses arrive in order.
  void Send(std::string_view request, uint64_t tag);
  size_t in_flight() const { return pending_.size(); }
  bool connected() const { return connected_; }
  bool failed() const { return failed_; }
  // A streaming response (etcd's watch): each chunk is handed over as it comes.
  void set_streaming(bool streaming) { streaming_ = streaming; }
  void set_handler(Handler handler) { handler_ = std::move(handler); }
  void OnEvents(uint32_t events);

 private:
  void Flush();
  void Fail(const std::string& why);
  void Parse();
  void Deliver(std::string_view body, bool pop);

  Loop* loop_;
  int fd_;
  Handler handler_;
  bool connected_ = false;
  bool failed_ = false;
  bool streaming_ = false;
  std::string out_;
  size_t out_off_ = 0;
  std::string in_;
  size_t in_off_ = 0;
  struct Pending {
    int64_t sent_ns;
    uint64_t tag;
  };
  std::deque<Pending> pending_;
  // The response being parsed.
  bool have_head_ = false;
  int status_ = 0;
  uint64_t index_ = 0;
  size_t content_length_ = 0;
  bool chunked_ = false;
  std::string chunks_;
};

class Loop {
 public:
  Loop(std::string host, int port) : host_(std::move(host)), port_(port) {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) Die(std::string("epoll_create1: ") + std::strerror(errno));
  }
  ~Loop() {
    conns_.clear();
    ::close(ep_);
  }

  // Opens a connection (non-blocking; requests sent before it is up wait in its buffer).
  Conn* Connect(Conn::Handler handler) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) Die(std::string("socket: ") + std::strerror(errno) + " (ulimit -n?)");
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(port_));
    if (::inet_pton(AF_INET, host_.c_str(), &sa.sin_addr) != 1) Die("bad address " + host_);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0 && errno != EINPROGRESS) {
      Die("connect to " + host_ + ":" + std::to_string(port_) + ": " + std::strerror(errno));
    }
    conns_.push_back(std::make_unique<Conn>(this, fd, std::move(handler)));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLET | EPOLLRDHUP;
    ev.data.ptr = conns_.back().get();
    if (::epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev) < 0) Die("epoll_ctl failed");
    return conns_.back().get();
  }

  // Opens `count` connections, `step` at a time so the server's accept backlog never overflows,
  // and waits until all are up.
  std::vector<Conn*> ConnectMany(long count, const Conn::Handler& handler, long step = 500) {
    std::vector<Conn*> out;
    for (long done = 0; done < count;) {
      long batch = std::min(step, count - done);
      for (long i = 0; i < batch; ++i) out.push_back(Connect(handler));
      done += batch;
      int64_t deadline = NowNs() + 10'000'000'000;
      RunUntil(
          [&] {
            return std::all_of(out.end() - batch, out.end(),
                               [](Conn* c) { return c->connected(); });
          },
          deadline);
      if (!std::all_of(out.begin(), out.end(), [](Conn* c) { return c->connected(); })) {
        Die("could not open " + std::to_string(count) + " connections (" + std::to_string(done) +
            " tried)");
      }
    }
    return out;
  }

  // Runs the loop until `done()` or the deadline; `tick` runs at least every millisecond.
  // Returns whether done() became true.
  bool RunUntil(const std::function<bool()>& done, int64_t deadline_ns,
                const std::function<void()>& tick = {}) {
    epoll_event events[256];
    for (;;) {
      if (tick) tick();
      if (done()) return true;
      if (NowNs() >= deadline_ns) return false;
      int n = ::epoll_wait(ep_, events, 256, 1);
      if (n < 0 && errno != EINTR) Die(std::string("epoll_wait: ") + std::strerror(errno));
      for (int i = 0; i < n; ++i)
        static_cast<Conn*>(events[i].data.ptr)->OnEvents(events[i].events);
      if (failures_ > 0 && fail_fast_) Die("a connection failed: " + last_failure_);
    }
  }

  // Closes connections that are done with (their handlers may refer to a finished scope).
  void Close(const std::vector<Conn*>& done) {
    std::unordered_set<Conn*> gone(done.begin(), done.end());
    std::erase_if(conns_, [&](const std::unique_ptr<Conn>& c) { return gone.count(c.get()) > 0; });
  }

  void NoteFailure(const std::string& why) {
    ++failures_;
    last_failure_ = why;
  }
  void set_fail_fast(bool v) { fail_fast_ = v; }
  long failures() const { return failures_; }

 private:
  std::string host_;
  int port_;
  int ep_;
  std::vector<std::unique_ptr<Conn>> conns_;
  long failures_ = 0;
  std::string last_failure_;
  bool fail_fast_ = true;
};

void Conn::Send(std::string_view request, uint64_t tag) {
  pending_.push_back({NowNs(), tag});
  out_.append(request);
  if (connected_) Flush();
}

void Conn::Fail(const std::string& why) {
  if (failed_) return;
  failed_ = true;
  loop_->NoteFailure(why);
}

void Conn::Flush() {
  while (out_off_ < out_.size()) {
    ssize_t n = ::send(fd_, out_.data() + out_off_, out_.size() - out_off_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      Fail(std::string("send: ") + std::strerror(errno));
      return;
    }
    out_off_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_off_ = 0;
}

void Conn::OnEvents(uint32_t events) {
  if (failed_) return;
  if (!connected_ && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      Fail(std::string("connect: ") + std::strerror(err));
      return;
    }
    connected_ = true;
  }
  if (events & EPOLLOUT) Flush();
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP)) {
    char buf[65536];
    for (;;) {
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in_.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n == 0) {
        Parse();
        Fail("the server closed the connection");
        return;
      }
      if (errno == EAGAIN || errno == EINTR) break;
      Fail(std::string("recv: ") + std::strerror(errno));
      return;
    }
    Parse();
  }
}

void Conn::Deliver(std::string_view body, bool pop) {
  Response r;
  r.status = status_;
  r.index = index_;
  r.body = body;
  if (!pending_.empty()) {
    r.sent_ns = pending_.front().sent_ns;
    r.tag = pending_.front().tag;
    if (pop) pending_.pop_front();
  }
  handler_(*this, r);
}

void Conn::Parse() {
  for (;;) {
    std::string_view data(in_.data() + in_off_, in_.size() - in_off_);
    if (!have_head_) {
      size_t end = data.find("\r\n\r\n");
      if (end == std::string_view::npos) break;
      std::string_view head = data.substr(0, end);
      status_ = head.size() > 12 ? static_cast<int>(ParseNumber(head.substr(9, 3))) : 0;
      index_ = 0;
      content_length_ = 0;
      chunked_ = false;
      size_t pos = head.find("\r\n");
      while (pos != std::string_view::npos) {
        size_t next = head.find("\r\n", pos + 2);
        std::string_view line = head.substr(
            pos + 2, next == std::string_view::npos ? std::string_view::npos : next - pos - 2);
        // No allocation per header: with 10,000 watchers answered at once, the client's own
        // parsing is part of what is measured.
        size_t colon = line.find(':');
        if (colon != std::string_view::npos) {
          std::string_view name = line.substr(0, colon);
          std::string_view value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
          if (HeaderIs(name, "content-length"))
            content_length_ = ParseNumber(value);
          else if (HeaderIs(name, "transfer-encoding"))
            chunked_ = value.find("chunked") != std::string_view::npos;
          else if (HeaderIs(name, "x-consul-index"))
            index_ = ParseNumber(value);
        }
        pos = next;
      }
      have_head_ = true;
      in_off_ += end + 4;
      chunks_.clear();
      continue;
    }
    if (!chunked_) {
      if (data.size() < content_length_) break;
      in_off_ += content_length_;
      have_head_ = false;
      Deliver(data.substr(0, content_length_), true);
      continue;
    }
    size_t line_end = data.find("\r\n");
    if (line_end == std::string_view::npos) break;
    size_t size = ParseNumber(data.substr(0, line_end), 16);
    if (data.size() < line_end + 2 + size + 2) break;
    std::string_view chunk = data.substr(line_end + 2, size);
    in_off_ += line_end + 2 + size + 2;
    if (size == 0) {
      have_head_ = false;
      Deliver(chunks_, true);
      continue;
    }
    if (streaming_)
      Deliver(chunk, false);
    else
      chunks_.append(chunk);
  }
  if (in_off_ == in_.size()) {
    in_.clear();
    in_off_ = 0;
  } else if (in_off_ > (1 << 20)) {
    in_.erase(0, in_off_);
    in_off_ = 0;
  }
}

std::string HttpRequest(std::string_view method, std::string_view path, std::string_view body = {},
                        std::string_view content_type = "application/json") {
  std::string r;
  r.reserve(128 + path.size() + body.size());
  r.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: loadgen\r\n");
  if (!body.empty()) r.append("Content-Type: ").append(content_type).append("\r\n");
  r.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n\r\n").append(body);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Requests for each system

std::string EtcdKey(const Options& o, long i) {
  return "/services/" + ServiceName(o, i) + "/" + InstanceId(o, i);
}

// Runs `count` requests made by make(i) over `conns` connections with `depth` in flight each;
// `on_ok(i, body)` sees each 2xx answer. Returns the wall seconds; latencies go to `lat`.
double RunRequests(Loop& loop, long count, int conns, int depth,
                   const std::function<std::string(long)>& make,
                   const std::function<void(long, std::string_view)>& on_ok, Samples* lat,
                   const std::string& what) {
  long next = 0, done = 0;
  std::string error;
  std::vector<Conn*> cs;
  int64_t last_answer = 0;
  Conn::Handler handler = [&](Conn& c, const Response& r) {
    ++done;
    int64_t now = NowNs();
    if (lat && now - last_answer > lat->longest_gap) {
      lat->longest_gap = now - last_answer;
      lat->longest_gap_end =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count();
    }
    last_answer = now;
    if (r.status / 100 != 2) {
      if (error.empty()) {
        error =
            what + ": HTTP " + std::to_string(r.status) + ": " + std::string(r.body.substr(0, 300));
      }
    } else {
      if (lat) lat->Add(NowNs() - r.sent_ns);
      if (on_ok) on_ok(static_cast<long>(r.tag), r.body);
    }
    if (next < count) {
      c.Send(make(next), static_cast<uint64_t>(next));
      ++next;
    }
  };
  cs = loop.ConnectMany(std::min<long>(conns, std::max(1L, count)), handler);
  int64_t start = NowNs();
  last_answer = start;
  for (int d = 0; d < depth; ++d) {
    for (Conn* c : cs) {
      if (next >= count) break;
      c->Send(make(next), static_cast<uint64_t>(next));
      ++next;
    }
  }
  int64_t last_log = start;
  loop.RunUntil([&] { return done >= count || !error.empty(); }, INT64_MAX,
                [&] {
                  int64_t now = NowNs();
                  if (now - last_log > 5'000'000'000) {
                    last_log = now;
                    Log(what + ": " + std::to_string(done) + "/" + std::to_string(count));
                  }
                });
  if (!error.empty()) Die(error);
  double seconds = static_cast<double>(NowNs() - start) / 1e9;
  loop.Close(cs);
  return seconds;
}

// Registers o.n instances. etcd: a lease per instance (its TTL), then a put bound to it;
// `leases` gets the lease IDs. Returns {registrations/s, JSON details}.
std::pair<double, std::string> Register(Loop& loop, const Options& o,
                                        std::vector<std::string>* leases) {
  Samples lat;
  if (o.target == "concierge" || o.target == "trivial") {
    double s = RunRequests(
        loop, o.n, o.conns, o.depth,
        [&](long i) {
          return HttpRequest("PUT", "/v1/agent/service/register", RegistrationJson(o, i, true));
        },
        nullptr, &lat, "register");
    double rate = static_cast<double>(o.n) / s;
    char gap[128];
    std::snprintf(gap, sizeof gap,
                  ",\"register_longest_gap_ms\":%.3f,\"register_longest_gap_end_unix\":%.3f",
                  static_cast<double>(lat.longest_gap) / 1e6, lat.longest_gap_end);
    return {rate, "\"register_s\":" + std::to_string(s) + "," + lat.Json("register_") + gap};
  }
  // etcd
  std::vector<std::string> ids(static_cast<size_t>(o.n));
  Samples grant_lat;
  long ttl = std::max(1L, std::lround(o.ttl));
  double grant_s = RunRequests(
      loop, o.n, o.conns, o.depth,
      [&](long) {
        return HttpRequest("POST", "/v3/lease/grant", "{\"TTL\":" + std::to_string(ttl) + "}");
      },
      [&](long i, std::string_view body) {
        ids[static_cast<size_t>(i)] = std::string(JsonField(body, "ID"));
      },
      &grant_lat, "lease grant");
  double put_s = RunRequests(
      loop, o.n, o.conns, o.depth,
      [&](long i) {
        return HttpRequest("POST", "/v3/kv/put",
                           "{\"key\":\"" + Base64(EtcdKey(o, i)) + "\",\"value\":\"" +
                               Base64(RegistrationJson(o, i, false)) + "\",\"lease\":\"" +
                               ids[static_cast<size_t>(i)] + "\"}");
      },
      nullptr, &lat, "put");
  if (leases) *leases = std::move(ids);
  double rate = static_cast<double>(o.n) / (grant_s + put_s);
  char buf[160];
  std::snprintf(buf, sizeof buf, "\"grant_per_s\":%.0f,\"put_per_s\":%.0f,", o.n / grant_s,
                o.n / put_s);
  return {rate, buf + grant_lat.Json("grant_") + "," + lat.Json("register_")};
}

// ---------------------------------------------------------------------------------------------
// ZooKeeper through the single-threaded C client, many sessions in one poll loop

#ifdef LOADGEN_ZOOKEEPER
class ZkPool {
 public:
  explicit ZkPool(std::string hosts) : hosts_(std::move(hosts)) {
    zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
  }
  ~ZkPool() {
    for (auto& s : sessions_) {
      if (s.zh) zookeeper_close(s.zh);
    }
  }
  // Opens `count` sessions with the given timeout and waits until all are connected.
  std::vector<int> Open(long count, int timeout_ms) {
    std::vector<int> ids;
    for (long i = 0; i < count; ++i) {
      sessions_.push_back({});
      int id = static_cast<int>(sessions_.size() - 1);
      sessions_[id].zh = zookeeper_init(hosts_.c_str(), &ZkPool::Watcher, timeout_ms, nullptr,
                                        reinterpret_cast<void*>(static_cast<intptr_t>(id)), 0);
      if (!sessions_[id].zh) Die("zookeeper_init failed");
      ids.push_back(id);
      if ((i + 1) % 50 == 0 || i + 1 == count) {  // the accept backlog is 50
        bool ok = Run(
            [&] {
              return std::all_of(ids.begin(), ids.end(), [&](int s) {
                return zoo_state(sessions_[s].zh) == ZOO_CONNECTED_STATE;
              });
            },
            NowNs() + 20'000'000'000);
        if (!ok) Die("could not open " + std::to_string(count) + " ZooKeeper sessions");
      }
    }
    return ids;
  }
  zhandle_t* handle(int id) { return sessions_[id].zh; }
  // A session not serviced any more sends nothing: no pings, so the server expires it.
  void Abandon(int id) { sessions_[id].abandoned = true; }
  // Runs every live session's I/O until done() or the deadline.
  bool Run(const std::function<bool()>& done, int64_t deadline,
           const std::function<void()>& tick = {}) {
    std::vector<pollfd> fds;
    std::vector<int> owners;
    for (;;) {
      if (tick) tick();
      if (done()) return true;
      if (NowNs() >= deadline) return false;
      fds.clear();
      owners.clear();
      for (size_t i = 0; i < sessions_.size(); ++i) {
        Session& s = sessions_[i];
        if (s.abandoned || !s.zh) continue;
        int fd = -1, interest = 0;
        timeval tv{};
        if (zookeeper_interest(s.zh, &fd, &interest, &tv) != ZOK || fd < 0) continue;
        short events = static_cast<short>(((interest & ZOOKEEPER_READ) ? POLLIN : 0) |
                                          ((interest & ZOOKEEPER_WRITE) ? POLLOUT : 0));
        fds.push_back({fd, events, 0});
        owners.push_back(static_cast<int>(i));
      }
      ::poll(fds.data(), fds.size(), 1);
      for (size_t k = 0; k < fds.size(); ++k) {
        int events = ((fds[k].revents & (POLLIN | POLLHUP | POLLERR)) ? ZOOKEEPER_READ : 0) |
                     ((fds[k].revents & POLLOUT) ? ZOOKEEPER_WRITE : 0);
        zookeeper_process(sessions_[owners[k]].zh, events);
      }
    }
  }

  // Watch events by session id, for the modes to consume.
  std::function<void(int session, int type, const char* path)> on_watch;

 private:
  static ZkPool* current_;
  struct Session {
    zhandle_t* zh = nullptr;
    bool abandoned = false;
  };
  static void Watcher(zhandle_t*, int type, int, const char* path, void* ctx) {
    if (type == ZOO_SESSION_EVENT || !current_ || !current_->on_watch) return;
    current_->on_watch(static_cast<int>(reinterpret_cast<intptr_t>(ctx)), type, path);
  }
  std::string hosts_;
  std::vector<Session> sessions_;

 public:
  void MakeCurrent() { current_ = this; }
};
ZkPool* ZkPool::current_ = nullptr;

std::string ZkHosts(const Options& o) { return o.host + ":" + std::to_string(o.port); }

// Creates `path` (persistent, empty) if absent, synchronously through the loop.
void ZkEnsure(ZkPool& pool, int session, const std::string& path) {
  bool done = false;
  int rc = -1;
  struct Ctx {
    bool* done;
    int* rc;
  } ctx{&done, &rc};
  zoo_acreate(
      pool.handle(session), path.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE, 0,
      [](int r, const char*, const void* data) {
        auto* c = static_cast<const Ctx*>(data);
        *c->rc = r;
        *c->done = true;
      },
      &ctx);
  pool.Run([&] { return done; }, NowNs() + 10'000'000'000);
  if (rc != ZOK && rc != ZNODEEXISTS) Die("zookeeper create " + path + ": " + zerror(rc));
}
#endif

// ---------------------------------------------------------------------------------------------
// Modes

// This process's CPU time (user + system), in seconds.
double OwnCpuSeconds() {
  rusage ru{};
  ::getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

// When each watcher heard of one change; the spread from the first is the fan-out alone,
// without the change's own commit.
struct Fanout {
  std::vector<int64_t> round;
  Samples since_first;
  // The client's own CPU while it received the answers: it shares the machine.
  double cpu_at_change = 0, client_cpu = 0;
  int rounds = 0;
  void Changed() { cpu_at_change = OwnCpuSeconds(); }
  void Told(int64_t now) { round.push_back(now); }
  void EndRound() {
    client_cpu += OwnCpuSeconds() - cpu_at_change;
    ++rounds;
    if (round.empty()) return;
    int64_t first = *std::min_element(round.begin(), round.end());
    for (int64_t t : round) since_first.Add(t - first);
    round.clear();
  }
};

std::string FanoutJson(Fanout& f) {
  char buf[64];
  std::snprintf(buf, sizeof buf, ",\"client_cpu_ms_per_change\":%.1f",
                f.rounds ? f.client_cpu * 1e3 / f.rounds : 0.0);
  return f.since_first.Json("fanout_") + buf;
}

std::string Common(const Options& o) {
  return "\"mode\":\"" + o.mode + "\",\"target\":\"" + o.target + "\",\"n\":" + std::to_string(o.n);
}

std::string ServerStats(const Options& o, double cpu_s, double wall_s) {
  if (o.server_pid <= 0) return "";
  char buf[160];
  std::snprintf(buf, sizeof buf, ",\"server_cpu_cores\":%.3f,\"server_rss_kib\":%ld",
                cpu_s / wall_s, ProcessRssKiB(o.server_pid));
  return buf;
}

int ModeRegister(const Options& o) {
  if (o.target == "zookeeper") {
#ifdef LOADGEN_ZOOKEEPER
    // Persistent znodes holding the same record (ZooKeeper has no TTL on a record; an
    // ephemeral node lives as long as its session, which the expiry mode measures).
    ZkPool pool(ZkHosts(o));
    pool.MakeCurrent();
    int s = pool.Open(1, 30000)[0];
    ZkEnsure(pool, s, "/services");
    std::set<std::string> parents;
    for (long i = 0; i < o.n; i += o.per_service) parents.insert("/services/" + ServiceName(o, i));
    for (const std::string& p : parents) ZkEnsure(pool, s, p);
    long next = 0, done = 0, failed = 0;
    Samples lat;
    std::vector<int64_t> sent(static_cast<size_t>(o.n));
    struct Ctx {
      long* done;
      long* failed;
      Samples* lat;
      int64_t sent;
    };
    std::deque<Ctx> ctxs;
    int in_flight_cap = o.conns * o.depth;
    int64_t start = NowNs();
    pool.Run([&] { return done >= o.n; }, INT64_MAX,
             [&] {
               while (next < o.n && next - done < in_flight_cap) {
                 std::string path = EtcdKey(o, next);
                 std::string value = RegistrationJson(o, next, false);
                 ctxs.push_back({&done, &failed, &lat, NowNs()});
                 zoo_acreate(
                     pool.handle(s), path.c_str(), value.data(), static_cast<int>(value.size()),
                     &ZOO_OPEN_ACL_UNSAFE, 0,
                     [](int rc, const char*, const void* data) {
                       auto* c = static_cast<const Ctx*>(data);
                       ++*c->done;
                       if (rc != ZOK)
                         ++*c->failed;
                       else
                         c->lat->Add(NowNs() - c->sent);
                     },
                     &ctxs.back());
                 ++next;
               }
             });
    double s_wall = static_cast<double>(NowNs() - start) / 1e9;
    if (failed > 0) Die(std::to_string(failed) + " ZooKeeper creates failed");
    std::printf("{%s,\"registrations_per_s\":%.0f,%s%s}\n", Common(o).c_str(), o.n / s_wall,
                lat.Json("register_").c_str(), ServerStats(o, 0, 1).c_str());
    return 0;
#else
    Die("built without the ZooKeeper C client (libzookeeper-st-dev)");
#endif
  }
  Loop loop(o.host, o.port);
  double cpu0 = o.server_pid ? ProcessCpuSeconds(o.server_pid) : 0;
  int64_t t0 = NowNs();
  auto [rate, details] = Register(loop, o, nullptr);
  double wall = static_cast<double>(NowNs() - t0) / 1e9;
  double cpu = o.server_pid ? ProcessCpuSeconds(o.server_pid) - cpu0 : 0;
  std::printf("{%s,\"registrations_per_s\":%.0f,%s%s}\n", Common(o).c_str(), rate, details.c_str(),
              ServerStats(o, cpu, wall).c_str());
  return 0;
}

int ModeHeartbeat(const Options& o) {
  if (o.target == "zookeeper")
    Die("heartbeat: ZooKeeper sessions ping by themselves; not measured");
  Loop loop(o.host, o.port);
  std::vector<std::string> leases;
  std::string reg;
  if (!o.no_register && o.target != "trivial") {
    auto [rate, details] = Register(loop, o, &leases);
    char buf[64];
    std::snprintf(buf, sizeof buf, ",\"registrations_per_s\":%.0f,", rate);
    reg = buf + details;
    Log("registered " + std::to_string(o.n) + " instances");
  }
  if (o.target == "etcd" && leases.empty())
    Die("heartbeat: etcd needs its leases (drop --no-register)");
  if (o.batch > 0 && o.target == "etcd") Die("--batch: etcd has no batched keepalive over HTTP");

  // Each instance beats in turn: beat k is for instance k mod n.
  long beat = 0;
  auto make = [&]() {
    if (o.batch > 0) {
      // {"Checks": ["service:ID", ...]}: each entry a TTL pass (docs/clustering.md).
      std::string body = "{\"Checks\":[";
      for (int j = 0; j < o.batch; ++j, ++beat) {
        body += j ? ",\"service:" : "\"service:";
        body += InstanceId(o, beat % o.n);
        body += '"';
      }
      return HttpRequest("PUT", "/v1/concierge/heartbeats", body + "]}");
    }
    long i = beat++ % o.n;
    if (o.target == "etcd") {
      return HttpRequest("POST", "/v3/lease/keepalive",
                         "{\"ID\":\"" + leases[static_cast<size_t>(i)] + "\"}");
    }
    return HttpRequest("PUT", "/v1/agent/check/pass/service:" + InstanceId(o, i));
  };
  const int per_request = std::max(1, o.batch);
  Samples lat;
  long answered = 0, errors = 0;
  bool measuring = false;
  std::string first_error;
  std::vector<Conn*> free_conns;
  Conn::Handler handler = [&](Conn& c, const Response& r) {
    // A keepalive of an expired etcd lease answers 200 without a TTL; a batch answers 200
    // with an error per failed entry, each with its position.
    bool ok = r.status / 100 == 2 &&
              !(o.target == "etcd" && r.body.find("\"TTL\"") == std::string_view::npos) &&
              !(o.batch > 0 && r.body.find("\"Position\"") != std::string_view::npos);
    if (!ok) {
      ++errors;
      if (first_error.empty())
        first_error =
            "HTTP " + std::to_string(r.status) + ": " + std::string(r.body.substr(0, 200));
    }
    if (measuring) {
      answered += per_request;
      lat.Add(NowNs() - r.sent_ns);
    }
    free_conns.push_back(&c);  // one slot free again
  };
  std::vector<Conn*> conns = loop.ConnectMany(o.conns, handler);
  for (int d = 0; d < o.depth; ++d) free_conns.insert(free_conns.end(), conns.begin(), conns.end());

  const double rate = o.rate;  // beats per second (0: unpaced)
  int64_t start = NowNs();
  long sent_requests = 0;
  auto pump = [&]() {
    double elapsed = static_cast<double>(NowNs() - start) / 1e9;
    long due = rate > 0 ? static_cast<long>(elapsed * rate / per_request) + 1 : LONG_MAX;
    while (sent_requests < due && !free_conns.empty()) {
      Conn* c = free_conns.back();
      free_conns.pop_back();
      c->Send(make(), 0);
      ++sent_requests;
    }
  };
  loop.RunUntil([] { return false; }, start + static_cast<int64_t>(o.warmup * 1e9), pump);
  measuring = true;
  // --runs consecutive windows of --duration; the rate is their median, the CPU their mean.
  double cpu0 = o.server_pid ? ProcessCpuSeconds(o.server_pid) : 0;
  int64_t all0 = NowNs();
  long behind_max = 0;
  std::vector<double> rates;
  std::string rates_json;
  for (int run = 0; run < o.runs; ++run) {
    answered = 0;
    int64_t m0 = NowNs();
    loop.RunUntil([] { return false; }, m0 + static_cast<int64_t>(o.duration * 1e9),
                  [&] {
                    pump();
                    if (rate > 0) {
                      double elapsed = static_cast<double>(NowNs() - start) / 1e9;
                      behind_max = std::max(behind_max, static_cast<long>(elapsed * rate) -
                                                            sent_requests * per_request);
                    }
                  });
    rates.push_back(static_cast<double>(answered) / (static_cast<double>(NowNs() - m0) / 1e9));
    rates_json += (run ? "," : "") + std::to_string(std::lround(rates.back()));
  }
  double wall = static_cast<double>(NowNs() - all0) / 1e9;
  double cpu = o.server_pid ? ProcessCpuSeconds(o.server_pid) - cpu0 : 0;
  if (errors > 0) Log(std::to_string(errors) + " errors; first: " + first_error);
  std::sort(rates.begin(), rates.end());
  double achieved = rates[rates.size() / 2];
  std::printf(
      "{%s%s,\"target_rate\":%.0f,\"heartbeats_per_s\":%.0f,\"runs\":[%s],\"held\":%s,"
      "\"errors\":%ld,\"batch\":%d,\"conns\":%d,\"depth\":%d,\"behind_max\":%ld,%s%s}\n",
      Common(o).c_str(), reg.c_str(), rate, achieved, rates_json.c_str(),
      rate > 0 && achieved >= 0.98 * rate ? "true" : "false", errors, o.batch, o.conns, o.depth,
      behind_max, lat.Json().c_str(), ServerStats(o, cpu, wall).c_str());
  return errors > 0 ? 1 : 0;
}

// Concierge: W blocking queries on one service; each round fails (then passes) one of its
// instances and times each watcher's answer from the moment the change was sent.
int WatchConcierge(const Options& o) {
  Loop loop(o.host, o.port);
  Options small = o;
  small.n = 3;
  small.prefix = o.prefix + "-watched";
  small.per_service = 3;
  small.ttl = 3600;
  Register(loop, small, nullptr);
  const std::string service = ServiceName(small, 0);
  const std::string path = "/v1/health/service/" + service;

  uint64_t index = 0;         // the latest index the control connection saw
  uint64_t parked_index = 0;  // the index the watchers are parked at
  Samples told;
  Fanout fanout;
  long answered = 0;
  int64_t change_ns = 0;
  std::string error;
  Conn::Handler watcher = [&](Conn&, const Response& r) {
    if (r.status != 200) {
      if (error.empty()) error = "watch: HTTP " + std::to_string(r.status);
      return;
    }
    if (r.index > parked_index && change_ns > 0) {
      int64_t now = NowNs();
      told.Add(now - change_ns);
      fanout.Told(now);
    }
    ++answered;
  };
  // The change's own answer: when it was committed (durably) and acknowledged.
  Samples acked;
  bool change_pending = false;
  Conn* control = loop.Connect([&](Conn&, const Response& r) {
    if (r.status != 200 && error.empty()) error = "control: HTTP " + std::to_string(r.status);
    if (r.index > 0) index = std::max(index, r.index);
    if (change_pending) acked.Add(NowNs() - r.sent_ns);
    change_pending = false;
  });
  auto call = [&](const std::string& request) {
    size_t before = control->in_flight();
    control->Send(request, 0);
    loop.RunUntil([&] { return control->in_flight() == before; }, NowNs() + 10'000'000'000);
  };
  // How many queries the agent holds parked, from its metrics.
  long parked = 0;
  Conn* metrics = loop.Connect([&](Conn&, const Response& r) {
    std::string_view b = r.body;
    size_t at = b.find("\"Name\":\"concierge.blocking.queries\"");
    parked = at == std::string_view::npos
                 ? -1
                 : std::atol(std::string(JsonField(b, "Value", at)).c_str());
  });
  // A known start: every instance passing (an earlier run may have left one failing).
  for (long i = 0; i < small.n; ++i) {
    call(HttpRequest("PUT", "/v1/agent/check/pass/service:" + InstanceId(small, i)));
  }
  call(HttpRequest("GET", path));
  Log("opening " + std::to_string(o.watchers) + " watcher connections");
  std::vector<Conn*> watchers = loop.ConnectMany(o.watchers, watcher);
  for (int round = 0; round < o.rounds; ++round) {
    change_ns = 0;
    answered = 0;
    parked_index = index;
    std::string query = HttpRequest("GET", path + "?index=" + std::to_string(index) + "&wait=60s");
    for (Conn* w : watchers) w->Send(query, 0);
    // Wait until the agent holds every watcher parked.
    parked = 0;
    int64_t deadline = NowNs() + 30'000'000'000;
    while (parked < o.watchers && NowNs() < deadline) {
      metrics->Send(HttpRequest("GET", "/v1/agent/metrics"), 0);
      loop.RunUntil([&] { return metrics->in_flight() == 0; }, NowNs() + 10'000'000'000);
      if (parked < 0) Die("the agent's metrics have no concierge.blocking.queries");
      if (parked < o.watchers) loop.RunUntil([] { return false; }, NowNs() + 50'000'000);
    }
    if (parked < o.watchers) Die("only " + std::to_string(parked) + " watchers parked after 30 s");
    if (answered > 0) Die("a watcher was answered before the change");
    // Fail an instance, then pass it again: each round is a real change.
    std::string check = "service:" + InstanceId(small, (round / 2) % 3);
    fanout.Changed();
    change_ns = NowNs();
    change_pending = true;
    control->Send(
        HttpRequest("PUT", "/v1/agent/check/" + std::string(round % 2 ? "pass/" : "fail/") + check),
        0);
    bool all = loop.RunUntil([&] { return answered >= o.watchers || !error.empty(); },
                             NowNs() + 30'000'000'000);
    if (!error.empty()) Die(error);
    if (!all) Die("only " + std::to_string(answered) + " watchers answered within 30 s");
    fanout.EndRound();
    Log("round " + std::to_string(round + 1) + ": all " + std::to_string(o.watchers) + " told");
    // Bring the control connection's index up to date.
    call(HttpRequest("GET", path));
  }
  std::printf("{%s,\"watchers\":%ld,\"rounds\":%d,%s,%s%s}\n", Common(o).c_str(), o.watchers,
              o.rounds, told.Json().c_str(),
              (acked.Json("change_acked_") + "," + FanoutJson(fanout)).c_str(),
              ServerStats(o, 0, 1).c_str());
  return 0;
}

// etcd: W watch streams (POST /v3/watch) on one key; each round puts the key.
int WatchEtcd(const Options& o) {
  Loop loop(o.host, o.port);
  const std::string key = Base64("/watched/" + o.prefix);
  Samples told;
  Fanout fanout;
  long created = 0, answered = 0;
  int64_t change_ns = 0;
  Conn::Handler watcher = [&](Conn&, const Response& r) {
    if (r.status != 200) Die("watch: HTTP " + std::to_string(r.status));
    if (r.body.find("\"created\":true") != std::string_view::npos) ++created;
    if (r.body.find("\"events\"") != std::string_view::npos) {
      int64_t now = NowNs();
      if (change_ns > 0) told.Add(now - change_ns);
      fanout.Told(now);
      ++answered;
    }
  };
  Samples acked;  // the put's own answer
  Conn* control = loop.Connect([&](Conn&, const Response& r) {
    if (r.status != 200) Die("put: HTTP " + std::to_string(r.status));
    acked.Add(NowNs() - r.sent_ns);
  });
  Log("opening " + std::to_string(o.watchers) + " watch streams");
  std::vector<Conn*> watchers = loop.ConnectMany(o.watchers, watcher);
  std::string create =
      HttpRequest("POST", "/v3/watch", "{\"create_request\":{\"key\":\"" + key + "\"}}");
  for (Conn* w : watchers) {
    w->set_streaming(true);
    w->Send(create, 0);
  }
  if (!loop.RunUntil([&] { return created >= o.watchers; }, NowNs() + 60'000'000'000)) {
    Die("only " + std::to_string(created) + " watches created within 60 s");
  }
  for (int round = 0; round < o.rounds; ++round) {
    loop.RunUntil([] { return false; }, NowNs() + 200'000'000);
    answered = 0;
    fanout.Changed();
    change_ns = NowNs();
    control->Send(HttpRequest("POST", "/v3/kv/put",
                              "{\"key\":\"" + key + "\",\"value\":\"" +
                                  Base64(std::to_string(round)) + "\"}"),
                  0);
    if (!loop.RunUntil([&] { return answered >= o.watchers; }, NowNs() + 30'000'000'000)) {
      Die("only " + std::to_string(answered) + " watchers told within 30 s");
    }
    fanout.EndRound();
    Log("round " + std::to_string(round + 1) + ": all " + std::to_string(o.watchers) + " told");
  }
  std::printf("{%s,\"watchers\":%ld,\"rounds\":%d,%s,%s%s}\n", Common(o).c_str(), o.watchers,
              o.rounds, told.Json().c_str(),
              (acked.Json("change_acked_") + "," + FanoutJson(fanout)).c_str(),
              ServerStats(o, 0, 1).c_str());
  return 0;
}

#ifdef LOADGEN_ZOOKEEPER
// ZooKeeper: W sessions each watch one znode (exists watch); each round sets its data.
int WatchZookeeper(const Options& o) {
  ZkPool pool(ZkHosts(o));
  pool.MakeCurrent();
  const std::string node = "/watched-" + o.prefix;
  Samples told;
  Fanout fanout;
  long answered = 0, armed = 0;
  int64_t change_ns = 0;
  pool.on_watch = [&](int, int, const char*) {
    int64_t now = NowNs();
    if (change_ns > 0) told.Add(now - change_ns);
    fanout.Told(now);
    ++answered;
  };
  int control = pool.Open(1, 30000)[0];
  ZkEnsure(pool, control, node);
  Log("opening " + std::to_string(o.watchers) + " sessions");
  std::vector<int> sessions = pool.Open(o.watchers, 30000);
  auto arm = [&] {
    armed = 0;
    for (int s : sessions) {
      zoo_awexists(
          pool.handle(s), node.c_str(),
          [](zhandle_t*, int type, int state, const char* path, void* ctx) {
            ZkPool* p = static_cast<ZkPool*>(ctx);
            if (type != ZOO_SESSION_EVENT) p->on_watch(0, type, path);
            (void)state;
          },
          &pool,
          [](int, const Stat*, const void* data) {
            ++*static_cast<long*>(const_cast<void*>(data));
          },
          &armed);
    }
    if (!pool.Run([&] { return armed >= o.watchers; }, NowNs() + 60'000'000'000))
      Die("watches not set");
  };
  for (int round = 0; round < o.rounds; ++round) {
    arm();
    answered = 0;
    fanout.Changed();
    change_ns = NowNs();
    std::string value = std::to_string(round);
    zoo_aset(
        pool.handle(control), node.c_str(), value.data(), static_cast<int>(value.size()), -1,
        [](int rc, const Stat*, const void*) {
          if (rc != ZOK) Die(std::string("zookeeper set: ") + zerror(rc));
        },
        nullptr);
    if (!pool.Run([&] { return answered >= o.watchers; }, NowNs() + 30'000'000'000)) {
      Die("only " + std::to_string(answered) + " sessions told within 30 s");
    }
    fanout.EndRound();
    Log("round " + std::to_string(round + 1) + ": all " + std::to_string(o.watchers) + " told");
  }
  std::printf("{%s,\"watchers\":%ld,\"rounds\":%d,%s,%s%s}\n", Common(o).c_str(), o.watchers,
              o.rounds, told.Json().c_str(), FanoutJson(fanout).c_str(),
              ServerStats(o, 0, 1).c_str());
  return 0;
}
#endif

int ModeWatch(const Options& o) {
  if (o.target == "concierge") return WatchConcierge(o);
  if (o.target == "etcd") return WatchEtcd(o);
#ifdef LOADGEN_ZOOKEEPER
  if (o.target == "zookeeper") return WatchZookeeper(o);
#endif
  Die("watch: not available for target " + o.target);
}

// Failure detection. Every instance beats every ttl/4; after two TTLs, --stop of them stop, one
// every --stop-gap seconds, each right after one last acknowledged beat; its deadline is the
// time that beat was sent plus the TTL (the server saw it no earlier, so the figure is an upper
// bound). A watcher of the instances sees each one fail; the figure is when, past the deadline.
struct ExpiryBook {
  std::vector<int64_t> deadline;  // per instance, 0 while it beats
  std::vector<bool> stopped;
  std::vector<bool> seen;
  Samples past;
  long seen_count = 0;
  long early = 0;           // seen failing before its deadline (clock or TTL slack)
  long false_failures = 0;  // instances seen failing that were still beating
  void See(long i, int64_t now) {
    if (i < 0 || i >= static_cast<long>(seen.size()) || seen[i]) return;
    if (!stopped[i]) {
      seen[i] = true;  // counted once; it stays out of the figures
      ++false_failures;
      return;
    }
    seen[i] = true;
    ++seen_count;
    if (now < deadline[i]) ++early;
    past.Add(std::max<int64_t>(0, now - deadline[i]));
  }
};

long InstanceNumber(const Options& o, std::string_view id) {
  std::string p = o.prefix + "-";
  size_t at = id.rfind(p);
  if (at == std::string_view::npos) return -1;
  return std::atol(std::string(id.substr(at + p.size())).c_str());
}

std::string ExpiryJson(const Options& o, ExpiryBook& book) {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                ",\"ttl_s\":%g,\"stopped\":%ld,\"seen\":%ld,\"seen_early\":%ld,"
                "\"false_failures\":%ld,",
                o.ttl, o.stop, book.seen_count, book.early, book.false_failures);
  return buf + book.past.Json();
}

int ExpiryHttp(const Options& o) {
  Loop loop(o.host, o.port);
  Options reg = o;
  reg.per_service = o.n + o.background;  // one service, watched as a whole
  const bool etcd = o.target == "etcd";
  if (etcd && (o.background > 0 || o.delta)) Die("--background and --delta: Concierge only");
  if (o.background > 0) {
    // First, so that the measured instances' TTLs do not run out meanwhile. They beat never:
    // an hour's TTL outlasts the run.
    Options bg = reg;
    bg.ttl = 3600;
    RunRequests(
        loop, o.background, o.conns, o.depth,
        [&](long k) {
          return HttpRequest("PUT", "/v1/agent/service/register",
                             RegistrationJson(bg, o.n + k, true));
        },
        nullptr, nullptr, "background register");
    Log("registered " + std::to_string(o.background) + " background instances in " +
        ServiceName(reg, 0));
  }
  std::vector<std::string> leases;
  Register(loop, reg, &leases);
  Log("registered " + std::to_string(o.n) + " instances with a " + std::to_string(o.ttl) +
      " s TTL");
  ExpiryBook book;
  book.deadline.assign(static_cast<size_t>(o.n), 0);
  book.stopped.assign(static_cast<size_t>(o.n), false);
  book.seen.assign(static_cast<size_t>(o.n), false);
  const int64_t ttl_ns = static_cast<int64_t>(o.ttl * 1e9);

  // The watcher.
  uint64_t index = 0;
  std::string watch_path = "/v1/health/service/" + ServiceName(reg, 0) + "?passing";
  std::string delta_path = "/v1/concierge/delta/service/" + ServiceName(reg, 0);
  Conn* watcher = nullptr;
  std::string error;
  long answers = 0, resyncs = 0;  // what the watcher was sent
  double answer_bytes = 0;
  if (etcd) {
    std::string from = Base64("/services/" + ServiceName(reg, 0) + "/");
    std::string to = "/services/" + ServiceName(reg, 0) + "0";  // '/' + 1
    bool created = false;
    watcher = loop.Connect([&](Conn&, const Response& r) {
      int64_t now = NowNs();
      if (r.body.find("\"created\":true") != std::string_view::npos) created = true;
      // Events: {"type":"DELETE","kv":{"key":"BASE64",...}} (a put has no "type").
      for (size_t at = r.body.find("\"type\":\"DELETE\""); at != std::string_view::npos;
           at = r.body.find("\"type\":\"DELETE\"", at + 1)) {
        std::string key = Unbase64(JsonField(r.body, "key", at));
        book.See(InstanceNumber(o, key), now);
      }
    });
    watcher->set_streaming(true);
    watcher->Send(HttpRequest("POST", "/v3/watch",
                              "{\"create_request\":{\"key\":\"" + from + "\",\"range_end\":\"" +
                                  Base64(to) + "\"}}"),
                  0);
    loop.RunUntil([&] { return created; }, NowNs() + 10'000'000'000);
    if (!created) Die("etcd watch not created");
  } else {
    // The delta stream: a first question from index 0 answers Resync with the service's
    // index (the instances were all passing then: just registered); then each answer lists
    // the instances that changed, with their checks, and the IDs removed. A later Resync
    // (the server's history does not reach back to our index) is followed by one whole read.
    bool whole_pending = false;
    // A whole ?passing answer: every instance it does not list is seen failing.
    auto see_missing = [&](std::string_view body, int64_t now) {
      std::vector<bool> present(static_cast<size_t>(o.n), false);
      for (size_t at = body.find("\"ServiceID\":\""); at != std::string_view::npos;
           at = body.find("\"ServiceID\":\"", at + 1)) {
        long i = InstanceNumber(o, JsonField(body, "ServiceID", at));
        if (i >= 0 && i < o.n) present[static_cast<size_t>(i)] = true;
      }
      for (long i = 0; i < o.n; ++i) {
        if (!present[static_cast<size_t>(i)]) book.See(i, now);
      }
    };
    auto ask_delta = [&](Conn& c) {
      c.Send(HttpRequest("GET", delta_path + "?index=" + std::to_string(index) + "&wait=60s"), 0);
    };
    std::function<void(Conn&, const Response&)> on_delta = [&](Conn& c, const Response& r) {
      int64_t now = NowNs();
      if (r.status != 200) {
        error = "delta: HTTP " + std::to_string(r.status);
        return;
      }
      ++answers;
      answer_bytes += static_cast<double>(r.body.size());
      if (whole_pending) {  // a whole ?passing answer after a resync
        whole_pending = false;
        see_missing(r.body, now);
        index = r.index;
        ask_delta(c);
        return;
      }
      if (r.body.substr(0, 64).find("\"Resync\":true") != std::string_view::npos) {
        if (index != 0) {
          ++resyncs;
          whole_pending = true;
          index = r.index;
          c.Send(HttpRequest("GET", watch_path), 0);
          return;
        }
        index = r.index;
        ask_delta(c);
        return;
      }
      // Each check names its instance after its status: an instance whose check is not
      // passing failed (as ?passing would leave it out).
      for (size_t at = r.body.find("\"ServiceID\":\""); at != std::string_view::npos;
           at = r.body.find("\"ServiceID\":\"", at + 1)) {
        size_t status_at = r.body.rfind("\"Status\":\"", at);
        if (status_at == std::string_view::npos) continue;
        if (JsonField(r.body, "Status", status_at) == "passing") continue;
        book.See(InstanceNumber(o, JsonField(r.body, "ServiceID", at)), now);
      }
      // "Removed":["ID",...] ends the answer.
      size_t removed = r.body.rfind("\"Removed\":[");
      size_t end = removed == std::string_view::npos ? 0 : r.body.find(']', removed);
      for (size_t at = removed + 11; removed != std::string_view::npos;) {
        size_t open = r.body.find('"', at);
        if (open == std::string_view::npos || open > end) break;
        size_t close = r.body.find('"', open + 1);
        if (close == std::string_view::npos) break;
        book.See(InstanceNumber(o, r.body.substr(open + 1, close - open - 1)), now);
        at = close + 1;
      }
      index = r.index;
      ask_delta(c);
    };
    std::function<void(Conn&, const Response&)> on_answer = [&](Conn& c, const Response& r) {
      int64_t now = NowNs();
      if (r.status != 200) {
        error = "watch: HTTP " + std::to_string(r.status);
        return;
      }
      ++answers;
      answer_bytes += static_cast<double>(r.body.size());
      see_missing(r.body, now);
      index = r.index;
      c.Send(HttpRequest("GET", watch_path + "&index=" + std::to_string(index) + "&wait=60s"), 0);
    };
    if (o.delta) {
      watcher = loop.Connect(on_delta);
      ask_delta(*watcher);
    } else {
      watcher = loop.Connect(on_answer);
      watcher->Send(HttpRequest("GET", watch_path), 0);
    }
  }

  // Heartbeats: instance i beats every ttl/4, spread evenly; one request each.
  const int64_t beat_every = ttl_ns / 4;
  std::vector<int64_t> last_sent(static_cast<size_t>(o.n), 0);
  std::vector<int64_t> next_due(static_cast<size_t>(o.n));
  int64_t start = NowNs();
  for (long i = 0; i < o.n; ++i) next_due[static_cast<size_t>(i)] = start + beat_every * i / o.n;
  std::vector<Conn*> free_conns;
  Conn::Handler on_beat = [&](Conn& c, const Response& r) {
    if (r.status / 100 != 2 && error.empty()) error = "heartbeat: HTTP " + std::to_string(r.status);
    free_conns.push_back(&c);
  };
  std::vector<Conn*> conns = loop.ConnectMany(std::min<long>(o.conns, o.n), on_beat);
  free_conns = conns;
  // To stop instance i: its last beat goes out, and nothing after.
  long stops_done = 0;
  const int64_t first_stop = start + 2 * ttl_ns;
  const int64_t gap = static_cast<int64_t>(o.stop_gap * 1e9);
  // The stopped instances are spread over the whole population: every (n / stop)-th.
  auto stopped_instance = [&](long k) { return k * (o.n / std::max(1L, o.stop)); };
  long cursor = 0;
  auto tick = [&] {
    int64_t now = NowNs();
    while (stops_done < o.stop && now >= first_stop + gap * stops_done) {
      long i = stopped_instance(stops_done++);
      book.stopped[static_cast<size_t>(i)] = true;
      // One last beat, now; its deadline is set when it goes out.
      next_due[static_cast<size_t>(i)] = now;
      book.deadline[static_cast<size_t>(i)] = -1;
    }
    // Beats due, in instance order from a rotating cursor (each tick covers at most n).
    for (long k = 0; k < o.n && !free_conns.empty(); ++k) {
      long i = (cursor + k) % o.n;
      size_t u = static_cast<size_t>(i);
      if (next_due[u] > now) continue;
      if (book.stopped[u] && book.deadline[u] != -1) continue;  // stopped, last beat gone
      Conn* c = free_conns.back();
      free_conns.pop_back();
      c->Send(etcd ? HttpRequest("POST", "/v3/lease/keepalive", "{\"ID\":\"" + leases[u] + "\"}")
                   : HttpRequest("PUT", "/v1/agent/check/pass/service:" + InstanceId(o, i)),
              0);
      last_sent[u] = now;
      next_due[u] = now + beat_every;
      if (book.stopped[u]) book.deadline[u] = now + ttl_ns;
    }
    cursor = (cursor + 1) % o.n;
  };
  const int64_t limit = first_stop + gap * o.stop + 3 * ttl_ns + 10'000'000'000;
  loop.RunUntil([&] { return book.seen_count >= o.stop || !error.empty(); }, limit, tick);
  if (!error.empty()) Die(error);
  if (book.seen_count < o.stop) {
    Log("only " + std::to_string(book.seen_count) + " of " + std::to_string(o.stop) +
        " stopped instances were seen failing");
  }
  char watch[200];
  std::snprintf(watch, sizeof watch,
                ",\"watch\":\"%s\",\"background\":%ld,\"watch_answers\":%ld,"
                "\"watch_mb\":%.1f,\"resyncs\":%ld",
                etcd      ? "etcd"
                : o.delta ? "delta"
                          : "plain",
                o.background, answers, answer_bytes / 1e6, resyncs);
  std::printf("{%s%s%s%s}\n", Common(o).c_str(), ExpiryJson(o, book).c_str(), watch,
              ServerStats(o, 0, 1).c_str());
  return book.seen_count < o.stop ? 1 : 0;
}

#ifdef LOADGEN_ZOOKEEPER
// ZooKeeper: a session per instance owning an ephemeral znode; the session timeout is the
// TTL. A stopped session sends one last request (its deadline: when that was sent plus the
// negotiated timeout), then is no longer serviced. A watcher session watches the children.
int ExpiryZookeeper(const Options& o) {
  ZkPool pool(ZkHosts(o));
  pool.MakeCurrent();
  const std::string parent = "/expiry-" + o.prefix;
  int watcher = pool.Open(1, 30000)[0];
  ZkEnsure(pool, watcher, parent);
  Log("opening " + std::to_string(o.n) + " sessions");
  std::vector<int> sessions = pool.Open(o.n, static_cast<int>(o.ttl * 1000));
  int timeout_ms = zoo_recv_timeout(pool.handle(sessions[0]));
  if (std::abs(timeout_ms - o.ttl * 1000) > 1) {
    Log("ZooKeeper negotiated a session timeout of " + std::to_string(timeout_ms) + " ms");
  }
  long created = 0;
  for (long i = 0; i < o.n; ++i) {
    std::string path = parent + "/" + InstanceId(o, i);
    zoo_acreate(
        pool.handle(sessions[static_cast<size_t>(i)]), path.c_str(), "", 0, &ZOO_OPEN_ACL_UNSAFE,
        ZOO_EPHEMERAL,
        [](int rc, const char*, const void* data) {
          if (rc != ZOK) Die(std::string("zookeeper create: ") + zerror(rc));
          ++*static_cast<long*>(const_cast<void*>(data));
        },
        &created);
  }
  if (!pool.Run([&] { return created >= o.n; }, NowNs() + 60'000'000'000)) Die("creates timed out");

  ExpiryBook book;
  book.deadline.assign(static_cast<size_t>(o.n), 0);
  book.stopped.assign(static_cast<size_t>(o.n), false);
  book.seen.assign(static_cast<size_t>(o.n), false);
  // The watcher: list the children with a watch; on each change list again and compare.
  struct WatchCtx {
    ZkPool* pool;
    int session;
    std::string parent;
    ExpiryBook* book;
    const Options* o;
    bool rearm = true;
  } ctx{&pool, watcher, parent, &book, &o};
  static WatchCtx* the_ctx = nullptr;
  the_ctx = &ctx;
  pool.on_watch = [&](int, int, const char*) { ctx.rearm = true; };
  auto list = [] {
    WatchCtx* c = the_ctx;
    c->rearm = false;
    zoo_awget_children(
        c->pool->handle(c->session), c->parent.c_str(),
        [](zhandle_t*, int type, int, const char*, void*) {
          if (type != ZOO_SESSION_EVENT) the_ctx->rearm = true;
        },
        nullptr,
        [](int rc, const String_vector* children, const void*) {
          if (rc != ZOK) Die(std::string("zookeeper get_children: ") + zerror(rc));
          int64_t now = NowNs();
          WatchCtx* c = the_ctx;
          std::vector<bool> present(static_cast<size_t>(c->o->n), false);
          for (int k = 0; k < children->count; ++k) {
            long i = InstanceNumber(*c->o, children->data[k]);
            if (i >= 0 && i < c->o->n) present[static_cast<size_t>(i)] = true;
          }
          for (long i = 0; i < c->o->n; ++i) {
            if (!present[static_cast<size_t>(i)]) c->book->See(i, now);
          }
        },
        nullptr);
  };
  const int64_t ttl_ns = static_cast<int64_t>(timeout_ms) * 1'000'000;
  int64_t start = NowNs();
  const int64_t first_stop = start + 2 * ttl_ns;
  const int64_t gap = static_cast<int64_t>(o.stop_gap * 1e9);
  long stops_done = 0;
  auto stopped_instance = [&](long k) { return k * (o.n / std::max(1L, o.stop)); };
  auto tick = [&] {
    if (ctx.rearm) list();
    int64_t now = NowNs();
    while (stops_done < o.stop && now >= first_stop + gap * stops_done) {
      long i = stopped_instance(stops_done++);
      size_t u = static_cast<size_t>(i);
      book.stopped[u] = true;
      // One last request; its completion is the last thing this session hears.
      book.deadline[u] = now + ttl_ns;
      zoo_aexists(
          pool.handle(sessions[u]), "/", 0,
          [](int, const Stat*, const void* data) {
            the_ctx->pool->Abandon(static_cast<int>(reinterpret_cast<intptr_t>(data)));
          },
          reinterpret_cast<void*>(static_cast<intptr_t>(sessions[u])));
    }
  };
  const int64_t limit = first_stop + gap * o.stop + 3 * ttl_ns + 15'000'000'000;
  pool.Run([&] { return book.seen_count >= o.stop; }, limit, tick);
  if (book.seen_count < o.stop) {
    Log("only " + std::to_string(book.seen_count) + " of " + std::to_string(o.stop) +
        " stopped sessions were seen expiring");
  }
  std::printf("{%s%s%s}\n", Common(o).c_str(), ExpiryJson(o, book).c_str(),
              ServerStats(o, 0, 1).c_str());
  return book.seen_count < o.stop ? 1 : 0;
}
#endif

int ModeExpiry(const Options& o) {
  if (o.target == "concierge" || o.target == "etcd") return ExpiryHttp(o);
#ifdef LOADGEN_ZOOKEEPER
  if (o.target == "zookeeper") return ExpiryZookeeper(o);
#endif
  Die("expiry: not available for target " + o.target);
}

}  // namespace

int main(int argc, char** argv) {
  Options o = ParseOptions(argc, argv);
  // Many connections: raise the soft limit on open files to the hard one.
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  if (o.mode == "register") return ModeRegister(o);
  if (o.mode == "heartbeat") return ModeHeartbeat(o);
  if (o.mode == "watch") return ModeWatch(o);
  if (o.mode == "expiry") return ModeExpiry(o);
  Usage();
  Die("unknown mode \"" + o.mode + "\"");
}
