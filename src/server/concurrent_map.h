// A hash map with one writer and any number of lock-free readers: open addressing over
// atomic pointers to immutable nodes. A read never locks, never allocates and never waits for
// the writer; the writer replaces whole nodes and frees old ones through an EpochDomain.
//
// Used for the heartbeat index (check ID -> slot) and the published read views
// (service name -> view, instance ID -> instance).
//
// KeyOf, if given, reads an entry's key from its value (the instance ID from an instance
// record): the node then stores no key of its own, 16 bytes less an entry (issue 9).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/text.h"
#include "server/epoch.h"

namespace concierge::server {

template <typename V, typename KeyOf = void>
class ConcurrentMap {
 public:
  explicit ConcurrentMap(EpochDomain& domain) : domain_(domain), table_(new Table(16)) {}
  ConcurrentMap(const ConcurrentMap&) = delete;
  ConcurrentMap& operator=(const ConcurrentMap&) = delete;
  ~ConcurrentMap() {
    Table* t = table_.load();
    for (std::size_t i = 0; i <= t->mask; ++i) {
      Node* n = t->buckets[i].load();
      if (n != nullptr && n != Tomb()) delete n;
    }
    delete t;
  }

  // Any thread: calls f(const V&) inside a read section if `key` is present.
  template <typename F>
  bool With(std::string_view key, F&& f) const {
    EpochDomain::ReadGuard guard(domain_);
    const Node* n = Find(table_.load(), key, Hash(key));
    if (n == nullptr) return false;
    f(n->value);
    return true;
  }

  // Any thread: a copy of the value.
  std::optional<V> Get(std::string_view key) const {
    std::optional<V> out;
    With(key, [&out](const V& v) { out = v; });
    return out;
  }

  // Any thread: f(key, value) for every entry, in no particular order. Entries written while
  // this runs may or may not be seen.
  template <typename F>
  void ForEach(F&& f) const {
    EpochDomain::ReadGuard guard(domain_);
    const Table* t = table_.load();
    for (std::size_t i = 0; i <= t->mask; ++i) {
      const Node* n = t->buckets[i].load();
      if (n != nullptr && n != Tomb()) f(n->Key(), n->value);
    }
  }

  // Writer only. A Text key shares its buffer with the caller's (e.g. a record's own ID).
  void Put(const core::Text& key, V value) requires std::is_void_v<KeyOf> {
    std::uint64_t h = Hash(key);
    Insert(h, new Node{h, key, std::move(value)});
  }
  // Writer only: with KeyOf, the key is the value's own.
  void Put(V value) requires(!std::is_void_v<KeyOf>) {
    std::uint64_t h = Hash(KeyOf()(value));
    Insert(h, new Node{h, std::move(value)});
  }

  // Writer only. Returns whether the key was present.
  bool Erase(std::string_view key) {
    std::uint64_t h = Hash(key);
    Table* t = table_.load();
    for (std::size_t i = h & t->mask;; i = (i + 1) & t->mask) {
      Node* n = t->buckets[i].load();
      if (n == nullptr) return false;
      if (n != Tomb() && n->hash == h && n->Key() == key) {
        t->buckets[i].store(Tomb());
        domain_.Retire([n] { delete n; });
        live_.store(live_.load(std::memory_order_relaxed) - 1, std::memory_order_relaxed);
        return true;
      }
    }
  }

  // Any thread (from a reader, the answer may be a moment old).
  std::size_t size() const { return live_.load(std::memory_order_relaxed); }

 private:
  struct KeyedNode {
    std::uint64_t hash;
    core::Text key;
    V value;
    std::string_view Key() const { return key; }
  };
  struct ValueKeyedNode {
    std::uint64_t hash;
    V value;
    std::string_view Key() const { return KeyOf()(value); }
  };
  using Node = std::conditional_t<std::is_void_v<KeyOf>, KeyedNode, ValueKeyedNode>;
  struct Table {
    explicit Table(std::size_t capacity)
        : mask(capacity - 1), buckets(new std::atomic<Node*>[capacity]) {
      for (std::size_t i = 0; i < capacity; ++i) buckets[i].store(nullptr);
    }
    std::size_t mask;
    std::unique_ptr<std::atomic<Node*>[]> buckets;
  };

  void Insert(std::uint64_t h, Node* node) {
    const std::string_view key = node->Key();
    Table* t = table_.load();
    std::size_t i = h & t->mask;
    std::atomic<Node*>* free_bucket = nullptr;
    for (;; i = (i + 1) & t->mask) {
      Node* n = t->buckets[i].load();
      if (n == nullptr) break;
      if (n == Tomb()) {
        if (free_bucket == nullptr) free_bucket = &t->buckets[i];
        continue;
      }
      if (n->hash == h && n->Key() == key) {
        t->buckets[i].store(node);
        domain_.Retire([n] { delete n; });
        return;
      }
    }
    if (free_bucket == nullptr) {
      if ((used_ + 1) * 4 > (t->mask + 1) * 3) {  // load factor 3/4
        Rehash();
        t = table_.load();
      }
      i = h & t->mask;
      while (t->buckets[i].load() != nullptr) i = (i + 1) & t->mask;
      free_bucket = &t->buckets[i];
      ++used_;
    }
    free_bucket->store(node);
    live_.store(live_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  static Node* Tomb() {
    static Node tomb{};
    return &tomb;
  }
  static std::uint64_t Hash(std::string_view key) { return std::hash<std::string_view>{}(key); }

  static const Node* Find(const Table* t, std::string_view key, std::uint64_t h) {
    for (std::size_t i = h & t->mask;; i = (i + 1) & t->mask) {
      const Node* n = t->buckets[i].load();
      if (n == nullptr) return nullptr;
      if (n != Tomb() && n->hash == h && n->Key() == key) return n;
    }
  }

  // A fresh table sized for the live entries, without tombstones. Nodes move, not copy.
  void Rehash() {
    Table* old = table_.load();
    std::size_t capacity = 16;
    while (capacity < (size() + 1) * 2) capacity *= 2;
    auto* fresh = new Table(capacity);
    for (std::size_t i = 0; i <= old->mask; ++i) {
      Node* n = old->buckets[i].load();
      if (n == nullptr || n == Tomb()) continue;
      std::size_t j = n->hash & fresh->mask;
      while (fresh->buckets[j].load() != nullptr) j = (j + 1) & fresh->mask;
      fresh->buckets[j].store(n);
    }
    used_ = size();
    table_.store(fresh);
    domain_.Retire([old] { delete old; });
  }

  EpochDomain& domain_;
  std::atomic<Table*> table_;
  // Written by the writer only; atomic because readers ask for size() (gauges).
  std::atomic<std::size_t> live_{0};
  std::size_t used_ = 0;  // live + tombstones in the current table
};

}  // namespace concierge::server
