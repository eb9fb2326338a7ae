// An ordered set of values, each keyed by a part of itself (an instance record by its ID),
// that is persistent: a copy of the set is one pointer, and changing a copy copies only the
// O(log n) nodes on the path to the change; the other copies keep seeing what they saw.
//
// A B+tree of immutable-once-shared nodes with intrusive reference counts. A node referenced
// once (by the set being changed and nobody else) is changed in place, so a batch of changes
// made between two copies copies each path once, and building a set from nothing copies
// nothing. This is how the catalog's service groups and the views published to readers share
// their records (docs/design.md, "Big services").
//
// Threading: like a std::shared_ptr<const std::map>: distinct copies may be read and changed
// on different threads; one copy is changed by one thread at a time, and not while read.
// Readers of a copy never see it change, whatever other copies do.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <type_traits>
#include <utility>

namespace concierge::core {

// KeyOf: a callable that returns the key of a value (by value or const reference); keys are
// ordered by operator< and compared with lookup keys of any type ordered with them.
template <typename T, typename KeyOf, std::size_t kMax = 32>
class PersistentSet {
  static_assert(kMax >= 4 && kMax % 2 == 0);
  struct Node;

 public:
  using value_type = T;
  using Key = std::decay_t<std::invoke_result_t<KeyOf, const T&>>;

  PersistentSet() = default;
  PersistentSet(const PersistentSet& other) : root_(other.root_), size_(other.size_) {
    if (root_ != nullptr) Retain(root_);
  }
  PersistentSet(PersistentSet&& other) noexcept
      : root_(std::exchange(other.root_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  PersistentSet& operator=(PersistentSet other) noexcept {
    std::swap(root_, other.root_);
    std::swap(size_, other.size_);
    return *this;
  }
  ~PersistentSet() { Release(root_); }

  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The value with key `key`, or null. Valid until this copy changes.
  template <typename Q>
  const T* Find(const Q& key) const {
    const Node* n = root_;
    if (n == nullptr) return nullptr;
    while (!n->leaf) {
      const Inner* in = AsInner(n);
      n = in->kids[ChildFor(*in, key)];
    }
    const Leaf* leaf = AsLeaf(n);
    std::size_t i = LowerBound(*leaf, key);
    return i < leaf->n && !(key < KeyOf()(leaf->values[i])) ? &leaf->values[i] : nullptr;
  }

  // Adds `value`, or replaces the value with the same key. True if it was added.
  bool Insert(T value) {
    if (root_ == nullptr) {
      Leaf* leaf = new Leaf;
      leaf->values[0] = std::move(value);
      leaf->n = 1;
      root_ = leaf;
      size_ = 1;
      return true;
    }
    bool added = false;
    Node* right = InsertInto(root_, std::move(value), &added);
    if (right != nullptr) {
      Inner* root = new Inner;
      root->keys[0] = MinKey(root_);
      root->kids[0] = root_;
      root->keys[1] = MinKey(right);
      root->kids[1] = right;
      root->n = 2;
      root_ = root;
    }
    size_ += added ? 1 : 0;
    return added;
  }

  // Removes the value with key `key`. True if there was one.
  template <typename Q>
  bool Erase(const Q& key) {
    if (Find(key) == nullptr) return false;  // nothing to copy
    EraseFrom(root_, key);
    --size_;
    if (root_->leaf) {
      if (root_->n == 0) {
        Release(root_);
        root_ = nullptr;
      }
    } else if (root_->n == 1) {
      Inner* old = AsInner(root_);
      Node* only = old->kids[0];
      Retain(only);
      Release(root_);
      root_ = only;
    }
    return true;
  }

  // Forward iteration in key order.
  class const_iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;

    const_iterator() = default;
    reference operator*() const {
      return AsLeaf(path_[depth_ - 1].node)->values[path_[depth_ - 1].i];
    }
    pointer operator->() const { return &**this; }
    const_iterator& operator++() {
      // Next in this leaf; else climb to the first ancestor with a next child, and descend
      // to that child's first leaf.
      if (++path_[depth_ - 1].i < path_[depth_ - 1].node->n) return *this;
      std::size_t d = depth_ - 1;
      while (d > 0 && ++path_[d - 1].i >= path_[d - 1].node->n) --d;
      if (d == 0) {
        depth_ = 0;
        return *this;
      }
      for (; d < depth_; ++d) {
        path_[d] = {AsInner(path_[d - 1].node)->kids[path_[d - 1].i], 0};
      }
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) {
      if (a.depth_ != b.depth_) return false;
      return a.depth_ == 0 || (a.path_[a.depth_ - 1].node == b.path_[b.depth_ - 1].node &&
                               a.path_[a.depth_ - 1].i == b.path_[b.depth_ - 1].i);
    }

   private:
    friend class PersistentSet;
    struct Step {
      const Node* node;
      std::uint32_t i;
    };
    // 2 * (kMax / 2)^(depth - 1) values at the least: 12 levels hold more than 2^32.
    std::array<Step, 12> path_{};
    std::size_t depth_ = 0;  // 0: end
  };

  const_iterator begin() const {
    const_iterator it;
    for (const Node* n = root_; n != nullptr; n = n->leaf ? nullptr : AsInner(n)->kids[0]) {
      it.path_[it.depth_++] = {n, 0};
    }
    return it;
  }
  const_iterator end() const { return {}; }
  // The first value whose key is not less than `key` (the start of a range or a prefix).
  template <typename Q>
  const_iterator LowerBound(const Q& key) const {
    const_iterator it;
    const Node* n = root_;
    if (n == nullptr || n->n == 0) return it;
    while (!n->leaf) {
      std::size_t i = ChildFor(*AsInner(n), key);
      it.path_[it.depth_++] = {n, static_cast<std::uint32_t>(i)};
      n = AsInner(n)->kids[i];
    }
    std::size_t i = LowerBound(*AsLeaf(n), key);
    if (i < n->n) {
      it.path_[it.depth_++] = {n, static_cast<std::uint32_t>(i)};
      return it;
    }
    // Past this leaf's last value: the answer is the next leaf's first.
    it.path_[it.depth_++] = {n, static_cast<std::uint32_t>(n->n - 1)};
    return ++it;
  }

  // Checks the tree's invariants (order, node fill, separator keys, equal leaf depth, size);
  // for tests.
  bool Valid() const {
    if (root_ == nullptr) return size_ == 0;
    std::size_t count = 0;
    int leaf_depth = -1;
    if (!ValidNode(root_, true, 0, &leaf_depth, &count) || count != size_) return false;
    for (auto it = begin(), prev = it; it != end(); prev = it++) {
      if (it != prev && !(KeyOf()(*prev) < KeyOf()(*it))) return false;
      if (--count == 0 && std::next(it) != end()) return false;
    }
    return true;
  }

 private:
  static constexpr std::size_t kMin = kMax / 2;

  struct Node {
    std::atomic<std::uint32_t> refs{1};
    std::uint32_t n = 0;
    bool leaf;
    explicit Node(bool is_leaf) : leaf(is_leaf) {}
  };
  struct Leaf : Node {
    Leaf() : Node(true) {}
    Leaf(const Leaf& other) : Node(true), values(other.values) { this->n = other.n; }
    std::array<T, kMax> values{};
  };
  struct Inner : Node {
    Inner() : Node(false) {}
    Inner(const Inner& other) : Node(false), keys(other.keys), kids(other.kids) {
      this->n = other.n;
      for (std::size_t i = 0; i < this->n; ++i) Retain(kids[i]);
    }
    ~Inner() {
      for (std::size_t i = 0; i < this->n; ++i) Release(kids[i]);
    }
    std::array<Key, kMax> keys{};  // keys[i]: the least key under kids[i]
    std::array<Node*, kMax> kids{};
  };

  static const Leaf* AsLeaf(const Node* n) { return static_cast<const Leaf*>(n); }
  static Leaf* AsLeaf(Node* n) { return static_cast<Leaf*>(n); }
  static const Inner* AsInner(const Node* n) { return static_cast<const Inner*>(n); }
  static Inner* AsInner(Node* n) { return static_cast<Inner*>(n); }

  static void Retain(Node* n) { n->refs.fetch_add(1, std::memory_order_relaxed); }
  static void Release(Node* n) {
    if (n == nullptr || n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    if (n->leaf) {
      delete AsLeaf(n);
    } else {
      delete AsInner(n);
    }
  }
  // Makes `*slot` a node only this copy references, copying it if it is shared. The acquire
  // pairs with the release of other copies dropping theirs, so their reads are finished.
  static void MakeOwned(Node*& slot) {
    if (slot->refs.load(std::memory_order_acquire) == 1) return;
    Node* copy = slot->leaf ? static_cast<Node*>(new Leaf(*AsLeaf(slot)))
                            : static_cast<Node*>(new Inner(*AsInner(slot)));
    Release(slot);
    slot = copy;
  }

  static Key MinKey(const Node* n) {
    return n->leaf ? Key(KeyOf()(AsLeaf(n)->values[0])) : AsInner(n)->keys[0];
  }
  template <typename Q>
  static std::size_t LowerBound(const Leaf& leaf, const Q& key) {
    auto end = leaf.values.begin() + leaf.n;
    return static_cast<std::size_t>(
        std::partition_point(leaf.values.begin(), end,
                             [&](const T& v) { return KeyOf()(v) < key; }) -
        leaf.values.begin());
  }
  // The child whose range holds `key`: the last whose least key is not above it (or the
  // first, for a key below all of them).
  template <typename Q>
  static std::size_t ChildFor(const Inner& in, const Q& key) {
    auto end = in.keys.begin() + in.n;
    auto it =
        std::partition_point(in.keys.begin() + 1, end, [&](const Key& k) { return !(key < k); });
    return static_cast<std::size_t>(it - in.keys.begin()) - 1;
  }

  // Inserts into the subtree `slot` (made owned); returns its new right sibling if it split.
  static Node* InsertInto(Node*& slot, T&& value, bool* added) {
    MakeOwned(slot);
    if (slot->leaf) return InsertIntoLeaf(*AsLeaf(slot), std::move(value), added);
    Inner& in = *AsInner(slot);
    Key key(KeyOf()(value));
    std::size_t i = ChildFor(in, key);
    if (key < in.keys[i]) in.keys[i] = key;  // a new least key of the subtree
    Node* right = InsertInto(in.kids[i], std::move(value), added);
    if (right == nullptr) return nullptr;
    return InsertChild(in, i + 1, MinKey(right), right);
  }

  static Node* InsertIntoLeaf(Leaf& leaf, T&& value, bool* added) {
    std::size_t i = LowerBound(leaf, KeyOf()(value));
    if (i < leaf.n && !(KeyOf()(value) < KeyOf()(leaf.values[i]))) {
      leaf.values[i] = std::move(value);
      return nullptr;
    }
    *added = true;
    if (leaf.n < kMax) {
      std::move_backward(leaf.values.begin() + i, leaf.values.begin() + leaf.n,
                         leaf.values.begin() + leaf.n + 1);
      leaf.values[i] = std::move(value);
      ++leaf.n;
      return nullptr;
    }
    Leaf* right = new Leaf;
    std::move(leaf.values.begin() + kMin, leaf.values.end(), right->values.begin());
    leaf.n = kMin;
    right->n = kMax - kMin;
    Leaf& into = i <= kMin ? leaf : *right;
    std::size_t at = i <= kMin ? i : i - kMin;
    std::move_backward(into.values.begin() + at, into.values.begin() + into.n,
                       into.values.begin() + into.n + 1);
    into.values[at] = std::move(value);
    ++into.n;
    return right;
  }

  // Puts `child` (least key `key`) at position `at` of `in`; returns in's new right sibling
  // if it split.
  static Node* InsertChild(Inner& in, std::size_t at, Key key, Node* child) {
    if (in.n < kMax) {
      std::move_backward(in.keys.begin() + at, in.keys.begin() + in.n, in.keys.begin() + in.n + 1);
      std::move_backward(in.kids.begin() + at, in.kids.begin() + in.n, in.kids.begin() + in.n + 1);
      in.keys[at] = std::move(key);
      in.kids[at] = child;
      ++in.n;
      return nullptr;
    }
    Inner* right = new Inner;
    std::move(in.keys.begin() + kMin, in.keys.end(), right->keys.begin());
    std::move(in.kids.begin() + kMin, in.kids.end(), right->kids.begin());
    std::fill(in.kids.begin() + kMin, in.kids.end(), nullptr);
    in.n = kMin;
    right->n = kMax - kMin;
    InsertChild(at <= kMin ? in : *right, at <= kMin ? at : at - kMin, std::move(key), child);
    return right;
  }

  // Removes `key` (present) from the subtree `slot` (made owned); the caller rebalances.
  template <typename Q>
  static void EraseFrom(Node*& slot, const Q& key) {
    MakeOwned(slot);
    if (slot->leaf) {
      Leaf& leaf = *AsLeaf(slot);
      std::size_t i = LowerBound(leaf, key);
      std::move(leaf.values.begin() + i + 1, leaf.values.begin() + leaf.n, leaf.values.begin() + i);
      leaf.values[--leaf.n] = T();
      return;
    }
    Inner& in = *AsInner(slot);
    std::size_t i = ChildFor(in, key);
    EraseFrom(in.kids[i], key);
    if (in.kids[i]->n >= kMin) {
      in.keys[i] = MinKey(in.kids[i]);
      return;
    }
    Rebalance(in, i);
  }

  // kids[i] fell below kMin: take from a sibling, or merge with it.
  static void Rebalance(Inner& in, std::size_t i) {
    if (in.n == 1) {
      in.keys[0] = MinKey(in.kids[0]);
      return;
    }
    std::size_t l = i > 0 ? i - 1 : i;  // merge or share kids[l] and kids[l + 1]
    MakeOwned(in.kids[l]);
    MakeOwned(in.kids[l + 1]);
    Node* left = in.kids[l];
    Node* right = in.kids[l + 1];
    if (left->n + right->n <= kMax) {
      MoveAll(left, right);
      Release(right);
      std::move(in.keys.begin() + l + 2, in.keys.begin() + in.n, in.keys.begin() + l + 1);
      std::move(in.kids.begin() + l + 2, in.kids.begin() + in.n, in.kids.begin() + l + 1);
      --in.n;
      in.keys[in.n] = Key();
      in.kids[in.n] = nullptr;
    } else {
      Share(left, right);
    }
    in.keys[l] = MinKey(in.kids[l]);
    if (l + 1 < in.n) in.keys[l + 1] = MinKey(in.kids[l + 1]);
  }

  // Appends everything of `right` to `left` (same kind), leaving `right` empty.
  static void MoveAll(Node* left, Node* right) {
    if (left->leaf) {
      Leaf& a = *AsLeaf(left);
      Leaf& b = *AsLeaf(right);
      std::move(b.values.begin(), b.values.begin() + b.n, a.values.begin() + a.n);
    } else {
      Inner& a = *AsInner(left);
      Inner& b = *AsInner(right);
      std::move(b.keys.begin(), b.keys.begin() + b.n, a.keys.begin() + a.n);
      std::copy(b.kids.begin(), b.kids.begin() + b.n, a.kids.begin() + a.n);
    }
    left->n += right->n;
    right->n = 0;  // its kids moved: nothing to release
  }

  // Evens out two siblings (same kind) that together hold more than kMax.
  static void Share(Node* left, Node* right) {
    const std::uint32_t total = left->n + right->n;
    const std::uint32_t want_left = total / 2;
    if (left->leaf) {
      ShiftBetween(AsLeaf(left)->values, AsLeaf(right)->values, left->n, right->n, want_left);
    } else {
      Inner& a = *AsInner(left);
      Inner& b = *AsInner(right);
      ShiftBetween(a.keys, b.keys, a.n, b.n, want_left);
      ShiftBetween(a.kids, b.kids, a.n, b.n, want_left);
    }
    left->n = want_left;
    right->n = total - want_left;
  }

  // Moves entries across the boundary of two adjacent arrays holding `ln` and `rn` entries,
  // so that the left one holds `want_left`. Leaves ln and rn as they were (the caller sets
  // them).
  template <typename A>
  static void ShiftBetween(A& left, A& right, std::uint32_t ln, std::uint32_t rn,
                           std::uint32_t want_left) {
    if (want_left > ln) {
      const std::uint32_t k = want_left - ln;
      std::move(right.begin(), right.begin() + k, left.begin() + ln);
      std::move(right.begin() + k, right.begin() + rn, right.begin());
      std::fill(right.begin() + (rn - k), right.begin() + rn, typename A::value_type());
    } else {
      const std::uint32_t k = ln - want_left;
      std::move_backward(right.begin(), right.begin() + rn, right.begin() + rn + k);
      std::move(left.begin() + want_left, left.begin() + ln, right.begin());
      std::fill(left.begin() + want_left, left.begin() + ln, typename A::value_type());
    }
  }

  bool ValidNode(const Node* n, bool root, int depth, int* leaf_depth, std::size_t* count) const {
    if (n->n == 0 || n->n > kMax || (!root && n->n < kMin)) return false;
    if (n->leaf) {
      if (*leaf_depth < 0) *leaf_depth = depth;
      if (*leaf_depth != depth) return false;
      *count += n->n;
      return true;
    }
    const Inner* in = AsInner(n);
    if (root && n->n < 2) return false;
    for (std::size_t i = 0; i < n->n; ++i) {
      if (MinKey(in->kids[i]) < in->keys[i] || in->keys[i] < MinKey(in->kids[i])) return false;
      if (i > 0 && !(in->keys[i - 1] < in->keys[i])) return false;
      if (!ValidNode(in->kids[i], false, depth + 1, leaf_depth, count)) return false;
    }
    return true;
  }

  Node* root_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace concierge::core
