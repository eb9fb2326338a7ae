#include "http/answer_cache.h"

namespace concierge::http {

std::shared_ptr<const std::string> AnswerCache::Get(std::string_view key,
                                                    const std::shared_ptr<const void>& view,
                                                    std::uint64_t index,
                                                    const std::function<std::string()>& encode) {
  std::shared_ptr<Entry> entry;
  {
    std::lock_guard lock(mu_);
    auto it = by_key_.find(key);
    if (it != by_key_.end() && (*it->second)->view == view) {
      lru_.splice(lru_.begin(), lru_, it->second);
      entry = lru_.front();
    } else if (it != by_key_.end() && (*it->second)->index > index) {
      ++encoded_;
    } else {
      // The service changed (or nobody asked yet): its answer about the older view goes.
      if (it != by_key_.end()) {
        bytes_ -= (*it->second)->size;
        lru_.erase(it->second);
        by_key_.erase(it);
      }
      entry = std::make_shared<Entry>();
      entry->key = std::string(key);
      entry->view = view;
      entry->index = index;
      lru_.push_front(entry);
      by_key_.emplace(entry->key, lru_.begin());
      Trim(entry.get());
    }
  }
  // An older view than the cached one: answered for this request alone.
  if (entry == nullptr) return std::make_shared<const std::string>(encode());
  std::call_once(entry->once, [&] {
    auto bytes = std::make_shared<const std::string>(encode());
    std::lock_guard lock(mu_);
    ++encoded_;
    entry->bytes = std::move(bytes);
    auto it = by_key_.find(entry->key);
    if (it != by_key_.end() && it->second->get() == entry.get()) {
      entry->size = entry->bytes->size();
      bytes_ += entry->size;
      Trim(entry.get());
    }
  });
  return entry->bytes;
}

void AnswerCache::Trim(const Entry* keep) {
  auto it = lru_.end();
  while ((lru_.size() > limits_.max_entries || bytes_ > limits_.max_bytes) && it != lru_.begin()) {
    --it;
    if (it->get() == keep) continue;
    bytes_ -= (*it)->size;
    by_key_.erase((*it)->key);
    it = lru_.erase(it);
  }
}

std::size_t AnswerCache::entries() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

std::size_t AnswerCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

std::uint64_t AnswerCache::encoded() const {
  std::lock_guard lock(mu_);
  return encoded_;
}

}  // namespace concierge::http
