#include "concierge/heartbeater.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

namespace concierge {

struct Heartbeater::Impl {
  Client* client;
  ServiceRegistration registration;
  HeartbeaterOptions options;
  Duration interval;

  // Touched only by the beating thread (or the caller's loop).
  bool registered = false;
  Duration backoff = Duration::zero();
  bool failing = false;

  mutable std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool stopped = false;
  Status last;
  int registrations = 0;
  std::thread thread;

  void Log(const std::string& event) {
    if (options.log) options.log(event);
  }

  void Record(const Status& status) {
    std::lock_guard lock(mutex);
    last = status;
  }

  Status RegisterNow() {
    Status st = client->Register(registration);
    if (st.ok()) {
      registered = true;
      std::lock_guard lock(mutex);
      ++registrations;
    }
    return st;
  }

  Status SendHeartbeat() {
    if (!registered) {
      Status st = RegisterNow();
      if (!st.ok()) return st;
      Log("registered " + registration.InstanceId());
    }
    if (registration.ttl <= Duration::zero()) return Status::Ok();
    Status health = options.probe ? options.probe() : Status::Ok();
    HealthStatus status = health.ok() ? HealthStatus::kPassing : HealthStatus::kCritical;
    Status st = client->UpdateCheck(registration.CheckId(), status, health.message());
    if (st.code() == Status::Code::kNotFound) {
      // The registry forgot the instance (restored, or deregistered after a long silence).
      Log("the registry does not know " + registration.CheckId() + "; registering again");
      registered = false;
      st = RegisterNow();
      if (st.ok()) st = client->UpdateCheck(registration.CheckId(), status, health.message());
    }
    if (st.ok() && !health.ok()) return Status::Ok();
    return st;
  }

  Duration Beat() {
    Status st = SendHeartbeat();
    Record(st);
    if (st.ok()) {
      if (failing) Log("heartbeats for " + registration.InstanceId() + " are back");
      failing = false;
      backoff = Duration::zero();
      return interval;
    }
    Log("heartbeat for " + registration.InstanceId() + " failed: " + st.message());
    failing = true;
    backoff = backoff == Duration::zero() ? options.min_backoff : backoff * 2;
    backoff = std::min(backoff, interval);
    return backoff;
  }

  void Run(Duration delay) {
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (wake.wait_for(lock, delay, [this] { return stopping; })) break;
      lock.unlock();
      delay = Beat();
      lock.lock();
    }
  }
};

Heartbeater::Heartbeater(Client* client, ServiceRegistration registration,
                         HeartbeaterOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->client = client;
  impl_->registration = std::move(registration);
  impl_->options = std::move(options);
  Duration ttl = impl_->registration.ttl;
  impl_->interval = impl_->options.interval > Duration::zero()
                        ? impl_->options.interval
                        : (ttl > Duration::zero() ? std::max(ttl / 3, Duration(1))
                                                  : Duration(std::chrono::seconds(10)));
  impl_->options.min_backoff = std::max(impl_->options.min_backoff, Duration(1));
}

Heartbeater::~Heartbeater() { Stop(); }

Status Heartbeater::Start() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->thread.joinable() || impl_->stopped) {
      return Status::InvalidArgument("Heartbeater::Start: already started");
    }
  }
  Duration delay = impl_->Beat();
  Status first = last_status();
  std::lock_guard lock(impl_->mutex);
  impl_->thread = std::thread([impl = impl_.get(), delay] { impl->Run(delay); });
  return first;
}

Duration Heartbeater::Beat() { return impl_->Beat(); }

Status Heartbeater::Stop() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopped) return Status::Ok();
    impl_->stopping = true;
    impl_->stopped = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
  if (!impl_->options.deregister_on_stop || !impl_->registered) return Status::Ok();
  Status st = impl_->client->Deregister(impl_->registration.InstanceId());
  if (st.ok()) impl_->Log("deregistered " + impl_->registration.InstanceId());
  return st;
}

Status Heartbeater::last_status() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->last;
}

int Heartbeater::registrations() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->registrations;
}

}  // namespace concierge
