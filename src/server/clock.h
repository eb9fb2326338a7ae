// Time for the server: injected, so every timer-driven behaviour is tested with a fake.
#pragma once

#include <atomic>
#include <chrono>

#include "core/time.h"

namespace concierge::server {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time, carried by commands (CriticalSince, reaps, logs).
  virtual core::Time Now() const = 0;
  // Monotonic time for heartbeats and TTL deadlines; immune to wall-clock steps.
  virtual core::Time Steady() const = 0;
};

class RealClock final : public Clock {
 public:
  core::Time Now() const override {
    return core::Time(std::chrono::duration_cast<core::Duration>(
        std::chrono::system_clock::now().time_since_epoch()));
  }
  core::Time Steady() const override {
    return core::Time(std::chrono::duration_cast<core::Duration>(
        std::chrono::steady_clock::now().time_since_epoch()));
  }
};

// A clock that moves only when told to. Safe to read from any thread.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(core::Time start = core::Time(std::chrono::seconds(1'700'000'000)))
      : ns_(start.time_since_epoch().count()) {}
  core::Time Now() const override { return core::Time(core::Duration(ns_.load())); }
  core::Time Steady() const override { return Now(); }
  void Advance(core::Duration d) { ns_.fetch_add(d.count()); }

 private:
  std::atomic<std::int64_t> ns_;
};

}  // namespace concierge::server
