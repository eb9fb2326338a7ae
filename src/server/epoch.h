// Epoch-based reclamation for single-writer, many-reader structures: readers never lock and
// never allocate; the writer unlinks an object, retires it, and frees it only once every
// reader that could have seen it has left its read section.
//
// All epoch and pointer operations are sequentially consistent: a reader that publishes its
// epoch before loading a pointer either sees the writer's unlink, or is seen by the writer's
// scan and delays the free.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <vector>

namespace concierge::server {

class EpochDomain {
 public:
  static constexpr int kMaxReaders = 512;

  EpochDomain() = default;
  EpochDomain(const EpochDomain&) = delete;
  EpochDomain& operator=(const EpochDomain&) = delete;
  ~EpochDomain() { FreeAll(); }

  // RAII read section. Cheap: one sequentially consistent store in and one release store out.
  // Sections nest: an inner one leaves the thread in the outer one's (older) epoch.
  class ReadGuard {
   public:
    explicit ReadGuard(EpochDomain& d)
        : slot_(d.ReaderSlot()), outer_(slot_.load(std::memory_order_relaxed) != 0) {
      if (!outer_) slot_.store(d.epoch_.load(), std::memory_order_seq_cst);
    }
    ~ReadGuard() {
      if (!outer_) slot_.store(0, std::memory_order_release);
    }
    ReadGuard(const ReadGuard&) = delete;
    ReadGuard& operator=(const ReadGuard&) = delete;

   private:
    std::atomic<std::uint64_t>& slot_;
    const bool outer_;  // already inside a section of this domain
  };

  // Writer: `free` runs once no reader can still hold what was unlinked before this call.
  void Retire(std::function<void()> free);
  // Writer: runs the frees whose grace period has passed. Call now and then.
  void Collect();
  std::size_t pending() const { return retired_.size(); }

 private:
  struct alignas(64) Reader {
    std::atomic<std::uint64_t> epoch{0};  // 0 = not reading
  };
  std::atomic<std::uint64_t>& ReaderSlot();
  void FreeAll();

  static inline std::atomic<std::uint64_t> next_id_{1};
  const std::uint64_t id_ = next_id_.fetch_add(1);  // distinguishes domains for ReaderSlot
  std::atomic<std::uint64_t> epoch_{1};
  std::atomic<int> readers_used_{0};
  Reader readers_[kMaxReaders];
  std::vector<std::pair<std::uint64_t, std::function<void()>>> retired_;
};

}  // namespace concierge::server
