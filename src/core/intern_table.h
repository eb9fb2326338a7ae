// The table behind interned values (Symbol's strings in text.cc, InternedList's lists):
// every block with the same contents is one block, found by contents under one mutex, and
// freed when its last reference goes.
//
// The last-reference protocol: a release that is not the last is a lock-free decrement (no
// other thread can free the block meanwhile); a release that may be the last decides under
// the mutex, where Intern may just have taken a new reference to the same block, and only
// then takes the block out of the table. So Intern never hands out a block being freed.
//
// `Traits` says what a block is:
//   using Block = ...;  // has `std::atomic<std::uint32_t> refs`
//   using Key = ...;    // a cheap view of contents (std::string_view, std::span<const T>)
//   static Key KeyOf(const Block*);
//   static std::size_t HashOf(const Block*);  // as stored when the block was made
//   static std::size_t Hash(Key);
//
// Thread safety: any thread. Make (in Intern) runs under the mutex; Destroy (in Release)
// outside it, so destroying a block's contents may take other tables' locks.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_set>

namespace concierge::core {

template <typename Traits>
class InternTable {
 public:
  using Block = typename Traits::Block;
  using Key = typename Traits::Key;

  // The block with contents `key`, with one more reference; if there is none,
  // `make(key, hash)` builds it (with one reference) and it joins the table.
  template <typename Make>
  Block* Intern(Key key, Make make) {
    std::size_t hash = Traits::Hash(key);
    std::lock_guard lock(mutex_);
    if (auto it = blocks_.find(key); it != blocks_.end()) {
      (*it)->refs.fetch_add(1, std::memory_order_relaxed);
      return *it;
    }
    Block* b = make(key, hash);
    blocks_.insert(b);
    return b;
  }

  // Drops one reference to `b`; if it was the last, `b` leaves the table and
  // `destroy(b)` frees it (outside the mutex).
  template <typename Destroy>
  void Release(Block* b, Destroy destroy) noexcept {
    std::uint32_t refs = b->refs.load(std::memory_order_relaxed);
    while (refs > 1) {
      if (b->refs.compare_exchange_weak(refs, refs - 1, std::memory_order_acq_rel)) return;
    }
    {
      std::lock_guard lock(mutex_);
      if (b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
      blocks_.erase(b);
    }
    destroy(b);
  }

  // Distinct blocks alive now.
  std::size_t size() {
    std::lock_guard lock(mutex_);
    return blocks_.size();
  }

 private:
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(const Block* b) const noexcept { return Traits::HashOf(b); }
    std::size_t operator()(Key key) const noexcept { return Traits::Hash(key); }
  };
  struct Equal {
    using is_transparent = void;
    static Key KeyOf(const Block* b) { return Traits::KeyOf(b); }
    static Key KeyOf(Key key) { return key; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const noexcept {
      Key x = KeyOf(a);
      Key y = KeyOf(b);
      return std::equal(x.begin(), x.end(), y.begin(), y.end());
    }
  };

  std::mutex mutex_;
  std::unordered_set<Block*, Hash, Equal> blocks_;
};

}  // namespace concierge::core
