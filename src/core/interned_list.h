// Immutable, interned lists for the catalog's records (issue 9: memory per instance).
//
// Most instances of a service carry the same tags and the same meta. A std::vector costs 24
// bytes in the record and a heap block per record; an InternedList is one pointer, and every
// list with the same items shares one block, as Symbol does for strings. Equal lists are the
// same block, so comparing two is comparing pointers.
//
// A list is read like a const std::vector (begin, end, size, operator[]); to change one,
// build a std::vector and assign it (vector() gives a copy to start from).
//
// Thread safety: like Symbol. Copies and destruction may happen on any thread; interning is
// guarded by one mutex per item type (an InternTable, as Symbol's) and happens only when a
// record is built.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <new>
#include <span>
#include <utility>
#include <vector>

#include "core/intern_table.h"
#include "core/text.h"

namespace concierge::core {

template <typename T>
class InternedList {
 public:
  InternedList() noexcept = default;
  InternedList(std::initializer_list<T> items)  // NOLINT: implicit, like std::vector
      : block_(Make(std::span<const T>(items.begin(), items.size()))) {}
  InternedList(const std::vector<T>& items) : block_(Make(items)) {}  // NOLINT
  explicit InternedList(std::span<const T> items) : block_(Make(items)) {}
  template <std::input_iterator It>
  InternedList(It first, It last) : InternedList(std::vector<T>(first, last)) {}

  InternedList(const InternedList& other) noexcept : block_(other.block_) {
    if (block_ != nullptr) block_->refs.fetch_add(1, std::memory_order_relaxed);
  }
  InternedList(InternedList&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  InternedList& operator=(const InternedList& other) noexcept {
    InternedList copy(other);
    std::swap(block_, copy.block_);
    return *this;
  }
  InternedList& operator=(InternedList&& other) noexcept {
    InternedList moved(std::move(other));
    std::swap(block_, moved.block_);
    return *this;
  }
  ~InternedList() { Release(block_); }

  const T* begin() const noexcept { return block_ == nullptr ? nullptr : block_->items(); }
  const T* end() const noexcept { return begin() + size(); }
  std::size_t size() const noexcept { return block_ == nullptr ? 0 : block_->size; }
  bool empty() const noexcept { return block_ == nullptr; }
  const T& operator[](std::size_t i) const noexcept { return begin()[i]; }
  std::vector<T> vector() const { return std::vector<T>(begin(), end()); }

  // Distinct lists of this item type alive now (for tests).
  static std::size_t Count() { return Interned().size(); }

  friend bool operator==(const InternedList& a, const InternedList& b) noexcept {
    return a.block_ == b.block_;  // equal items share one block
  }

 private:
  struct Block {
    std::atomic<std::uint32_t> refs;
    std::uint32_t size;
    std::size_t hash;
    // `size` items follow the header.
    T* items() noexcept { return std::launder(reinterpret_cast<T*>(this + 1)); }
    const T* items() const noexcept { return std::launder(reinterpret_cast<const T*>(this + 1)); }
  };
  static_assert(sizeof(Block) % alignof(T) == 0);

  static std::size_t HashItem(const Symbol& s) noexcept { return std::hash<Symbol>()(s); }
  static std::size_t HashItem(const std::pair<Symbol, Symbol>& p) noexcept {
    return HashItem(p.first) * 31 + HashItem(p.second);
  }
  static std::size_t HashItems(std::span<const T> items) noexcept {
    std::size_t h = items.size();
    for (const T& item : items) h = h * 1000003 ^ HashItem(item);
    return h;
  }

  struct Traits {
    using Block = InternedList::Block;
    using Key = std::span<const T>;
    static Key KeyOf(const Block* b) { return {b->items(), b->size}; }
    static std::size_t HashOf(const Block* b) { return b->hash; }
    static std::size_t Hash(Key items) { return HashItems(items); }
  };
  static InternTable<Traits>& Interned() {
    // Never destroyed: records may outlive static destruction.
    static auto* table = new InternTable<Traits>;
    return *table;
  }

  static Block* Make(std::span<const T> items) {
    if (items.empty()) return nullptr;
    return Interned().Intern(items, [](std::span<const T> key, std::size_t hash) {
      void* memory = ::operator new(sizeof(Block) + key.size() * sizeof(T));
      auto* b = static_cast<Block*>(memory);
      new (&b->refs) std::atomic<std::uint32_t>(1);
      b->size = static_cast<std::uint32_t>(key.size());
      b->hash = hash;
      T* out = reinterpret_cast<T*>(b + 1);
      for (std::size_t i = 0; i < key.size(); ++i) new (out + i) T(key[i]);
      return b;
    });
  }

  static void Release(Block* b) noexcept {
    if (b == nullptr) return;
    // The items (Symbols, which take their own table's lock) go outside the list table's.
    Interned().Release(b, [](Block* last) {
      T* items = last->items();
      for (std::uint32_t i = 0; i < last->size; ++i) items[i].~T();
      ::operator delete(last);
    });
  }

  Block* block_ = nullptr;
};

// A service's tags, in the order registered.
using TagList = InternedList<Symbol>;
// A service's meta: sorted by key, keys unique.
using MetaList = InternedList<std::pair<Symbol, Symbol>>;

}  // namespace concierge::core
