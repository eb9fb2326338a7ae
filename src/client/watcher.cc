#include "concierge/watcher.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "client/wire.h"

namespace concierge {

struct Watcher::Impl {
  std::unique_ptr<Client> client;  // private, so Stop() can abort a long poll
  Status open_error;
  std::string service;
  WatcherOptions options;

  // Touched only by the polling thread (or the caller's loop).
  std::uint64_t index = 0;
  Duration backoff = Duration::zero();
  // Follow the service with deltas (Client::Delta) once a whole answer is in hand; off for
  // good once a registry says it does not serve them.
  bool deltas = true;
  bool whole = false;  // the list is a whole answer at `index`, brought up to date by deltas

  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::condition_variable wake;
  std::shared_ptr<const ServiceSnapshot> current = std::make_shared<ServiceSnapshot>();
  bool stopping = false;
  std::thread thread;

  void Publish(ServiceSnapshot next) {
    std::shared_ptr<const ServiceSnapshot> published;
    {
      std::lock_guard lock(mutex);
      next.version = current->version + 1;
      current = std::make_shared<const ServiceSnapshot>(std::move(next));
      published = current;
    }
    changed.notify_all();
    if (options.on_change) options.on_change(*published);
  }

  std::shared_ptr<const ServiceSnapshot> Current() const {
    std::lock_guard lock(mutex);
    return current;
  }

  Duration Fail(Status status) {
    std::shared_ptr<const ServiceSnapshot> now = Current();
    if (!now->stale || now->error.message() != status.message()) {
      ServiceSnapshot next = *now;
      next.stale = true;
      next.error = std::move(status);
      Publish(std::move(next));
    }
    backoff = backoff == Duration::zero() ? options.min_backoff : backoff * 2;
    backoff = std::min(backoff, options.max_backoff);
    return backoff;
  }

  // Whether an instance belongs in the list (the filters the registry applies to Health).
  bool Wanted(const Instance& i) const {
    if (options.passing_only && i.health != HealthStatus::kPassing) return false;
    for (const std::string& tag : options.tags) {
      if (std::find(i.tags.begin(), i.tags.end(), tag) == i.tags.end()) return false;
    }
    return true;
  }

  // The list after `delta` (both sorted by ID): one merge, O(list + changes).
  std::vector<Instance> Apply(const std::vector<Instance>& list, const ServiceDelta& delta) const {
    std::vector<Instance> out;
    out.reserve(list.size() + delta.changed.size());
    auto c = delta.changed.begin();
    auto r = delta.removed.begin();
    for (const Instance& i : list) {
      for (; c != delta.changed.end() && c->id < i.id; ++c) {
        if (Wanted(*c)) out.push_back(*c);
      }
      while (r != delta.removed.end() && *r < i.id) ++r;
      if (r != delta.removed.end() && *r == i.id) continue;
      if (c != delta.changed.end() && c->id == i.id) {
        // Replaced by its new record (all of a service's instances are on one node).
        for (; c != delta.changed.end() && c->id == i.id; ++c) {
          if (Wanted(*c)) out.push_back(*c);
        }
        continue;
      }
      out.push_back(i);
    }
    for (; c != delta.changed.end(); ++c) {
      if (Wanted(*c)) out.push_back(*c);
    }
    return out;
  }

  // Publishes `instances` at `at` if they differ from what was published (or it was stale).
  void Answered(std::vector<Instance> instances, std::uint64_t at) {
    std::shared_ptr<const ServiceSnapshot> now = Current();
    ServiceSnapshot next = *now;
    next.last_answer = options.clock->Now();
    next.index = at;
    bool different = !now->known || now->stale || now->instances != instances;
    next.instances = std::move(instances);
    next.known = true;
    next.stale = false;
    next.error = Status::Ok();
    if (different) {
      Publish(std::move(next));
    } else {
      std::lock_guard lock(mutex);
      next.version = current->version;
      current = std::make_shared<const ServiceSnapshot>(std::move(next));
    }
  }

  Duration Poll() {
    if (!client) return Fail(open_error);
    if (deltas && whole && index > 0) {
      Result<ServiceDelta> delta = client->Delta(service, {.index = index, .wait = options.wait});
      {
        std::lock_guard lock(mutex);
        if (stopping) return Duration::zero();
      }
      if (delta.ok() && !delta->resync) {
        backoff = Duration::zero();
        index = client::NextIndex(index, delta->index);
        Answered(Apply(Current()->instances, *delta), delta->index);
        return Duration::zero();
      }
      const bool refused =
          !delta.ok() && (delta.status().code() == Status::Code::kNotFound ||
                          delta.status().code() == Status::Code::kPermissionDenied);
      if (!delta.ok() && !refused) return Fail(delta.status());
      // A registry without deltas (or a token that may not read them: Health answers it
      // filtered) is asked as Consul is from now on; a resync reads it all now (not blocking).
      if (delta.ok()) index = 0;
      deltas = delta.ok();
      whole = false;
    }
    HealthQuery query;
    query.passing_only = options.passing_only;
    query.tags = options.tags;
    query.index = index;
    query.wait = options.wait;
    Result<HealthAnswer> answer = client->Health(service, query);
    {
      std::lock_guard lock(mutex);
      if (stopping) return Duration::zero();
    }
    if (!answer.ok()) return Fail(answer.status());
    backoff = Duration::zero();
    index = client::NextIndex(index, answer->index);
    whole = index > 0;
    Answered(std::move(answer->instances), answer->index);
    return Duration::zero();
  }

  void Run(Duration delay) {
    std::unique_lock lock(mutex);
    while (!stopping) {
      if (delay > Duration::zero() && wake.wait_for(lock, delay, [this] { return stopping; })) {
        break;
      }
      lock.unlock();
      delay = Poll();
      lock.lock();
    }
  }
};

Watcher::Watcher(const Client& client, std::string service, WatcherOptions options)
    : impl_(std::make_unique<Impl>()) {
  impl_->service = std::move(service);
  impl_->options = std::move(options);
  if (impl_->options.clock == nullptr) impl_->options.clock = Clock::Real();
  impl_->options.min_backoff = std::max(impl_->options.min_backoff, Duration(1));
  impl_->options.max_backoff = std::max(impl_->options.max_backoff, impl_->options.min_backoff);
  Result<std::unique_ptr<Client>> own = Client::Open(client.options());
  if (own.ok()) {
    impl_->client = std::move(own).value();
  } else {
    impl_->open_error = own.status();
  }
}

Watcher::~Watcher() { Stop(); }

Status Watcher::Start() {
  {
    std::lock_guard lock(impl_->mutex);
    if (impl_->thread.joinable() || impl_->stopping) {
      return Status::InvalidArgument("Watcher::Start: already started");
    }
  }
  Duration delay = impl_->Poll();
  Status first = snapshot()->error;
  std::lock_guard lock(impl_->mutex);
  impl_->thread = std::thread([impl = impl_.get(), delay] { impl->Run(delay); });
  return first;
}

Duration Watcher::Poll() { return impl_->Poll(); }

void Watcher::Stop() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->client) impl_->client->Shutdown();
  if (impl_->thread.joinable()) impl_->thread.join();
}

std::shared_ptr<const ServiceSnapshot> Watcher::snapshot() const { return impl_->Current(); }

std::shared_ptr<const ServiceSnapshot> Watcher::WaitForChange(std::uint64_t version,
                                                              Duration timeout) const {
  std::unique_lock lock(impl_->mutex);
  impl_->changed.wait_for(lock, timeout, [&] { return impl_->current->version > version; });
  return impl_->current;
}

const std::string& Watcher::service() const { return impl_->service; }

}  // namespace concierge
