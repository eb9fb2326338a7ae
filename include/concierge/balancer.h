// Copyright: the Concierge authors.
//
// A Balancer picks one instance of a service for each request, over the list a Watcher
// keeps (or one set by hand), and leaves out for a while the instances that just failed
// (local outlier detection), before the registry itself notices:
//
//   concierge::Balancer balancer(&watcher, {.policy = concierge::Policy::kRoundRobin});
//   for (int attempt = 0; attempt < 3; ++attempt) {
//     std::optional<concierge::Balancer::Lease> lease = balancer.Pick();
//     if (!lease) break;                               // no instance at all
//     if (Call(lease->instance().Endpoint())) { lease->Success(); break; }
//     lease->Failure();                                // ejected: the next Pick avoids it
//   }
//
// Ejection: after `consecutive_failures` failures in a row, an instance is not picked for
// base_ejection; each further ejection without a success in between doubles the time, up
// to max_ejection. A success resets both. If every instance is ejected, the Balancer picks
// among all of them rather than none ("panic mode", as Envoy does).
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "concierge/client.h"

namespace concierge {

class Watcher;

enum class Policy {
  kRoundRobin,         // in turn
  kRandom,             // uniformly at random
  kWeighted,           // in proportion to Weights (passing or warning), smoothly interleaved
  kPowerOfTwoChoices,  // of two random instances, the one with fewer requests in flight
};

struct BalancerOptions {
  Policy policy = Policy::kRoundRobin;
  int consecutive_failures = 1;  // failures in a row that eject an instance; 0: never eject
  Duration base_ejection = std::chrono::seconds(10);
  Duration max_ejection = std::chrono::minutes(5);
  std::uint64_t seed = 0;  // for kRandom and kPowerOfTwoChoices; 0: seeded from the system
  const Clock* clock = Clock::Real();
};

class Balancer {
 public:
  // One request to one instance. Report its outcome with Success() or Failure(); a Lease
  // destroyed without either only ends the request (it no longer counts as in flight).
  // A Lease must not outlive its Balancer.
  class Lease {
   public:
    Lease(Lease&& other) noexcept;
    Lease& operator=(Lease&& other) noexcept;
    ~Lease();

    const Instance& instance() const { return *instance_; }
    void Success();
    void Failure();

   private:
    friend class Balancer;
    struct State;
    Lease(State* state, std::shared_ptr<const Instance> instance);
    void Finish(int outcome);
    State* state_;
    std::shared_ptr<const Instance> instance_;  // shared with the Balancer's list: no copy
  };

  // A Balancer over instances given with SetInstances().
  explicit Balancer(BalancerOptions options = {});
  // A Balancer that follows `watcher`'s list (which must outlive it), checked on each Pick.
  // Instances in critical health are never picked.
  explicit Balancer(const Watcher* watcher, BalancerOptions options = {});
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;
  ~Balancer();

  // Replaces the list. Ejections and in-flight counts carry over for IDs still present.
  void SetInstances(std::vector<Instance> instances);

  // The instance for the next request, or nullopt when there is none.
  std::optional<Lease> Pick();

  // Whether `instance_id` is ejected now.
  bool IsEjected(std::string_view instance_id) const;
  // Requests in flight to `instance_id` (Leases not yet finished).
  int InFlight(std::string_view instance_id) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace concierge
