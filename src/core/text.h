// Compact immutable strings for the catalog's records (issue 9: memory per instance).
//
// A std::string costs 32 bytes in a record even when empty, and every copy of an instance
// record copies its strings. A Text is one pointer: copies share one reference-counted
// buffer, and the empty Text allocates nothing. A Symbol is a Text that is also interned:
// every Symbol with the same contents shares one buffer, so the service name, tags, meta and
// check names that thousands of instances repeat are stored once.
//
// Use Symbol for values that repeat across instances, Text for values that are mostly unique
// (IDs, addresses, check output): interning those would only add a table entry.
//
// Thread safety: like std::shared_ptr<const std::string>. Copies and destruction may happen
// on any thread (records are freed by whichever reader drops them last); interning is
// guarded by one mutex and happens only when a record is built from a request or a snapshot.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <compare>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

namespace concierge::core {

namespace text_detail {

// A Text's buffer: 8 bytes of header, then the characters. An interned block (Symbol) is
// preceded by its hash (text.cc), which unique strings do not pay for.
struct Block {
  std::atomic<std::uint32_t> refs;
  std::uint32_t size;
  char data[1];  // `size` bytes follow
};

Block* Allocate(std::string_view s);
Block* Intern(std::string_view s);
void ReleaseInterned(Block* block);

inline void Retain(Block* b) noexcept {
  if (b != nullptr) b->refs.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace text_detail

template <bool kInterned>
class BasicText {
 public:
  BasicText() noexcept = default;
  BasicText(std::string_view s) : block_(Make(s)) {}  // NOLINT: implicit, like std::string
  BasicText(const std::string& s) : BasicText(std::string_view(s)) {}  // NOLINT
  BasicText(const char* s) : BasicText(std::string_view(s)) {}         // NOLINT
  template <bool kOther>
  explicit BasicText(const BasicText<kOther>& other) : BasicText(other.view()) {}

  BasicText(const BasicText& other) noexcept : block_(other.block_) { text_detail::Retain(block_); }
  BasicText(BasicText&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  BasicText& operator=(const BasicText& other) noexcept {
    BasicText copy(other);
    std::swap(block_, copy.block_);
    return *this;
  }
  BasicText& operator=(BasicText&& other) noexcept {
    BasicText moved(std::move(other));
    std::swap(block_, moved.block_);
    return *this;
  }
  ~BasicText() { Release(block_); }

  std::string_view view() const noexcept {
    return block_ == nullptr ? std::string_view() : std::string_view(block_->data, block_->size);
  }
  operator std::string_view() const noexcept { return view(); }  // NOLINT: implicit
  std::string str() const { return std::string(view()); }
  const char* data() const noexcept { return block_ == nullptr ? "" : block_->data; }
  std::size_t size() const noexcept { return block_ == nullptr ? 0 : block_->size; }
  bool empty() const noexcept { return block_ == nullptr; }
  bool starts_with(std::string_view prefix) const noexcept { return view().starts_with(prefix); }

  friend bool operator==(const BasicText& a, const BasicText& b) noexcept {
    if (a.block_ == b.block_) return true;
    if constexpr (kInterned) return false;  // equal contents share one block
    return a.view() == b.view();
  }
  friend bool operator==(const BasicText& a, std::string_view b) noexcept { return a.view() == b; }
  friend bool operator==(const BasicText& a, const std::string& b) noexcept {
    return a.view() == b;
  }
  friend bool operator==(const BasicText& a, const char* b) noexcept { return a.view() == b; }
  friend std::strong_ordering operator<=>(const BasicText& a, const BasicText& b) noexcept {
    return a.view() <=> b.view();
  }
  friend std::strong_ordering operator<=>(const BasicText& a, std::string_view b) noexcept {
    return a.view() <=> b;
  }
  friend std::strong_ordering operator<=>(const BasicText& a, const std::string& b) noexcept {
    return a.view() <=> std::string_view(b);
  }
  friend std::strong_ordering operator<=>(const BasicText& a, const char* b) noexcept {
    return a.view() <=> std::string_view(b);
  }

 private:
  static text_detail::Block* Make(std::string_view s) {
    if (s.empty()) return nullptr;
    return kInterned ? text_detail::Intern(s) : text_detail::Allocate(s);
  }
  static void Release(text_detail::Block* b) noexcept {
    if (b == nullptr) return;
    if constexpr (kInterned) {
      text_detail::ReleaseInterned(b);
    } else if (b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      ::operator delete(b);
    }
  }

  text_detail::Block* block_ = nullptr;
};

using Text = BasicText<false>;
using Symbol = BasicText<true>;

// Interned strings alive now (for tests and metrics).
std::size_t InternedCount();

// Concatenation into a std::string, as with std::string's own operator+.
template <bool kInterned>
std::string operator+(std::string a, const BasicText<kInterned>& b) {
  a += b.view();
  return a;
}
template <bool kInterned>
std::string operator+(const BasicText<kInterned>& a, std::string_view b) {
  std::string s(a.view());
  s += b;
  return s;
}

// Hash and equality for unordered containers keyed by Text or Symbol that are looked up
// by std::string_view without building a key.
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>()(s);
  }
};
struct TextEqual {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const noexcept { return a == b; }
};

}  // namespace concierge::core

template <bool kInterned>
struct std::hash<concierge::core::BasicText<kInterned>> {
  std::size_t operator()(const concierge::core::BasicText<kInterned>& t) const noexcept {
    return std::hash<std::string_view>()(t.view());
  }
};

template <bool kInterned>
struct fmt::formatter<concierge::core::BasicText<kInterned>> : fmt::formatter<std::string_view> {
  template <typename Context>
  auto format(const concierge::core::BasicText<kInterned>& t, Context& ctx) const {
    return fmt::formatter<std::string_view>::format(t.view(), ctx);
  }
};
