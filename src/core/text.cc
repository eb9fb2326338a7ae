#include "core/text.h"

#include <cstring>
#include <mutex>
#include <new>
#include <unordered_set>

namespace concierge::core {
namespace text_detail {
namespace {

// An interned block: its hash, kept for the table, then the block that Symbols point to.
struct InternedBlock {
  std::size_t hash;
  Block block;
};

InternedBlock* Outer(Block* b) {
  return reinterpret_cast<InternedBlock*>(reinterpret_cast<char*>(b) -
                                          offsetof(InternedBlock, block));
}

struct Hash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept {
    return std::hash<std::string_view>()(s);
  }
  std::size_t operator()(Block* b) const noexcept { return Outer(b)->hash; }
};

struct Equal {
  using is_transparent = void;
  static std::string_view View(const Block* b) { return {b->data, b->size}; }
  static std::string_view View(std::string_view s) { return s; }
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const noexcept {
    return View(a) == View(b);
  }
};

// Every interned block, by contents. A block leaves the table when its last reference goes;
// that last release happens under the mutex, so Intern never hands out a block being freed.
struct Table {
  std::mutex mutex;
  std::unordered_set<Block*, Hash, Equal> blocks;
};

Table& Interned() {
  static auto* table = new Table;  // never destroyed: records may outlive static destruction
  return *table;
}

// Fills in the block at `memory`, which has room for `s`.
Block* Fill(void* memory, std::string_view s) {
  auto* b = static_cast<Block*>(memory);
  new (&b->refs) std::atomic<std::uint32_t>(1);
  b->size = static_cast<std::uint32_t>(s.size());
  std::memcpy(b->data, s.data(), s.size());
  return b;
}

}  // namespace

Block* Allocate(std::string_view s) {
  return Fill(::operator new(offsetof(Block, data) + s.size()), s);
}

Block* Intern(std::string_view s) {
  Table& table = Interned();
  std::size_t hash = Hash()(s);
  std::lock_guard lock(table.mutex);
  auto it = table.blocks.find(s);
  if (it != table.blocks.end()) {
    (*it)->refs.fetch_add(1, std::memory_order_relaxed);
    return *it;
  }
  void* memory = ::operator new(offsetof(InternedBlock, block.data) + s.size());
  auto* outer = static_cast<InternedBlock*>(memory);
  outer->hash = hash;
  Block* b = Fill(&outer->block, s);
  table.blocks.insert(b);
  return b;
}

void ReleaseInterned(Block* b) {
  // Not the last reference: nobody can free the block meanwhile, so no lock is needed.
  std::uint32_t refs = b->refs.load(std::memory_order_relaxed);
  while (refs > 1) {
    if (b->refs.compare_exchange_weak(refs, refs - 1, std::memory_order_acq_rel)) return;
  }
  // Possibly the last: decide under the mutex, where Intern may have taken a new reference.
  Table& table = Interned();
  std::lock_guard lock(table.mutex);
  if (b->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  table.blocks.erase(b);
  ::operator delete(Outer(b));
}

}  // namespace text_detail

std::size_t InternedCount() {
  auto& table = text_detail::Interned();
  std::lock_guard lock(table.mutex);
  return table.blocks.size();
}

}  // namespace concierge::core
