#include "concierge/balancer.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <random>
#include <string>

#include "concierge/watcher.h"

namespace concierge {

namespace {
constexpr int kSuccess = 1;
constexpr int kFailure = 2;
}  // namespace

struct Balancer::Lease::State {
  virtual ~State() = default;
  virtual void Finish(const std::string& id, int outcome) = 0;
};

struct Balancer::Impl final : Balancer::Lease::State {
  struct Track {
    int in_flight = 0;
    int failures_in_a_row = 0;
    int ejections = 0;  // in a row, without a success in between
    Clock::TimePoint ejected_until{};
    long current_weight = 0;  // smooth weighted round-robin
  };

  BalancerOptions options;
  const Watcher* watcher = nullptr;

  mutable std::mutex mutex;
  std::uint64_t watched_version = 0;
  bool watched_any = false;
  // Picks hand out shared pointers to these (a Lease copies no strings); track_of[k] is
  // instances[k]'s entry in `tracks` (map nodes do not move).
  std::vector<std::shared_ptr<const Instance>> instances;
  std::vector<Track*> track_of;
  std::map<std::string, Track, std::less<>> tracks;
  std::vector<std::size_t> eligible;  // Choose()'s scratch, kept to pick without allocating
  std::size_t next = 0;
  std::mt19937_64 rng;

  void SetLocked(std::vector<Instance> list) {
    std::erase_if(list, [](const Instance& i) { return i.health == HealthStatus::kCritical; });
    std::map<std::string, Track, std::less<>> kept;
    for (const Instance& i : list) {
      auto it = tracks.find(i.id);
      kept[i.id] = it == tracks.end() ? Track{} : it->second;
    }
    tracks = std::move(kept);
    instances.clear();
    track_of.clear();
    for (Instance& i : list) {
      track_of.push_back(&tracks.find(i.id)->second);
      instances.push_back(std::make_shared<const Instance>(std::move(i)));
    }
  }

  void Refresh() {
    if (watcher == nullptr) return;
    std::shared_ptr<const ServiceSnapshot> s = watcher->snapshot();
    if (watched_any && s->version == watched_version) return;
    watched_any = true;
    watched_version = s->version;
    SetLocked(s->instances);
  }

  bool Ejected(const Track& t, Clock::TimePoint now) const { return now < t.ejected_until; }

  int Weight(const Instance& i) const {
    return std::max(0, i.health == HealthStatus::kWarning ? i.weights.warning : i.weights.passing);
  }

  // Index into `instances` of the next pick, or -1.
  long Choose() {
    if (instances.empty()) return -1;
    Clock::TimePoint now = options.clock->Now();
    eligible.clear();
    for (std::size_t k = 0; k < instances.size(); ++k) {
      if (!Ejected(*track_of[k], now)) eligible.push_back(k);
    }
    // Panic mode: better an instance that failed a moment ago than none.
    if (eligible.empty()) {
      for (std::size_t k = 0; k < instances.size(); ++k) eligible.push_back(k);
    }
    switch (options.policy) {
      case Policy::kRoundRobin:
        return static_cast<long>(eligible[next++ % eligible.size()]);
      case Policy::kRandom:
        return static_cast<long>(
            eligible[std::uniform_int_distribution<std::size_t>(0, eligible.size() - 1)(rng)]);
      case Policy::kWeighted: {
        // nginx's smooth weighted round-robin: each pick adds every weight to its current
        // value, takes the largest, and subtracts the total from it.
        long total = 0;
        long best = -1;
        for (std::size_t k : eligible) {
          Track& t = *track_of[k];
          long w = Weight(*instances[k]);
          total += w;
          t.current_weight += w;
          if (best < 0 ||
              t.current_weight > track_of[static_cast<std::size_t>(best)]->current_weight) {
            best = static_cast<long>(k);
          }
        }
        if (total == 0) return static_cast<long>(eligible[next++ % eligible.size()]);
        track_of[static_cast<std::size_t>(best)]->current_weight -= total;
        return best;
      }
      case Policy::kPowerOfTwoChoices: {
        if (eligible.size() == 1) return static_cast<long>(eligible[0]);
        std::uniform_int_distribution<std::size_t> pick(0, eligible.size() - 1);
        std::size_t a = pick(rng);
        std::size_t b = pick(rng);
        while (b == a) b = pick(rng);
        std::size_t ia = eligible[a];
        std::size_t ib = eligible[b];
        return static_cast<long>(track_of[ib]->in_flight < track_of[ia]->in_flight ? ib : ia);
      }
    }
    return -1;
  }

  void Finish(const std::string& id, int outcome) override {
    std::lock_guard lock(mutex);
    auto it = tracks.find(id);
    if (it == tracks.end()) return;
    Track& t = it->second;
    t.in_flight = std::max(0, t.in_flight - 1);
    if (outcome == kSuccess) {
      t.failures_in_a_row = 0;
      t.ejections = 0;
      t.ejected_until = {};
    } else if (outcome == kFailure && options.consecutive_failures > 0) {
      ++t.failures_in_a_row;
      if (t.failures_in_a_row >= options.consecutive_failures) {
        Duration d = options.base_ejection;
        for (int k = 0; k < t.ejections && d < options.max_ejection; ++k) d *= 2;
        d = std::min(d, options.max_ejection);
        t.ejected_until = options.clock->Now() + d;
        ++t.ejections;
        t.failures_in_a_row = 0;
      }
    }
  }
};

Balancer::Lease::Lease(State* state, std::shared_ptr<const Instance> instance)
    : state_(state), instance_(std::move(instance)) {}

Balancer::Lease::Lease(Lease&& other) noexcept
    : state_(std::exchange(other.state_, nullptr)), instance_(std::move(other.instance_)) {}

Balancer::Lease& Balancer::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Finish(0);
    state_ = std::exchange(other.state_, nullptr);
    instance_ = std::move(other.instance_);
  }
  return *this;
}

Balancer::Lease::~Lease() { Finish(0); }

void Balancer::Lease::Success() { Finish(kSuccess); }
void Balancer::Lease::Failure() { Finish(kFailure); }

void Balancer::Lease::Finish(int outcome) {
  if (state_ == nullptr) return;
  std::exchange(state_, nullptr)->Finish(instance_->id, outcome);
}

Balancer::Balancer(BalancerOptions options) : Balancer(nullptr, options) {}

Balancer::Balancer(const Watcher* watcher, BalancerOptions options)
    : impl_(std::make_unique<Impl>()) {
  if (options.clock == nullptr) options.clock = Clock::Real();
  impl_->options = options;
  impl_->watcher = watcher;
  impl_->rng.seed(options.seed != 0 ? options.seed : std::random_device{}());
}

Balancer::~Balancer() = default;

void Balancer::SetInstances(std::vector<Instance> instances) {
  std::lock_guard lock(impl_->mutex);
  impl_->SetLocked(std::move(instances));
}

std::optional<Balancer::Lease> Balancer::Pick() {
  std::lock_guard lock(impl_->mutex);
  impl_->Refresh();
  long k = impl_->Choose();
  if (k < 0) return std::nullopt;
  ++impl_->track_of[static_cast<std::size_t>(k)]->in_flight;
  return Lease(impl_.get(), impl_->instances[static_cast<std::size_t>(k)]);
}

bool Balancer::IsEjected(std::string_view instance_id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->tracks.find(instance_id);
  return it != impl_->tracks.end() && impl_->Ejected(it->second, impl_->options.clock->Now());
}

int Balancer::InFlight(std::string_view instance_id) const {
  std::lock_guard lock(impl_->mutex);
  auto it = impl_->tracks.find(instance_id);
  return it == impl_->tracks.end() ? 0 : it->second.in_flight;
}

}  // namespace concierge
