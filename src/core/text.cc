#include "core/text.h"

#include <cstring>
#include <new>

#include "core/intern_table.h"

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
const InternedBlock* Outer(const Block* b) { return Outer(const_cast<Block*>(b)); }

struct SymbolTraits {
  using Block = text_detail::Block;
  using Key = std::string_view;
  static Key KeyOf(const Block* b) { return {b->data, b->size}; }
  static std::size_t HashOf(const Block* b) { return Outer(b)->hash; }
  static std::size_t Hash(Key s) { return std::hash<std::string_view>()(s); }
};

InternTable<SymbolTraits>& Interned() {
  // Never destroyed: records may outlive static destruction.
  static auto* table = new InternTable<SymbolTraits>;
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
  return Interned().Intern(s, [](std::string_view key, std::size_t hash) {
    void* memory = ::operator new(offsetof(InternedBlock, block.data) + key.size());
    auto* outer = static_cast<InternedBlock*>(memory);
    outer->hash = hash;
    return Fill(&outer->block, key);
  });
}

void ReleaseInterned(Block* b) {
  Interned().Release(b, [](Block* last) { ::operator delete(Outer(last)); });
}

}  // namespace text_detail

std::size_t InternedCount() { return text_detail::Interned().size(); }

}  // namespace concierge::core
