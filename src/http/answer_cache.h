// Encoded answers shared by every request that asks the same question of the same immutable
// view: the watchers of a service wake together after a change and ask the same few questions
// (all instances, passing only, a tag), so each (view, question) is encoded once, by the first
// request to ask, and every other request answers with the same bytes (reference counted,
// never copied; http::Response::shared_body).
//
// Bounded: a key (a service and a question) keeps only the answer of its newest view, so an
// answer is dropped when its service changes and the requests writing it are done; and the
// answers kept are at most `max_entries` and `max_bytes` in all, the least recently asked
// dropped first. A request asking about an older view than the key's (a reader that took its
// view before a change) gets its answer encoded for it alone, not cached.
//
// Threading: any thread. Requests asking the same question at once wait for the one encoding
// it (it would take them as long to encode it themselves); the lock around the table is never
// held while encoding.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace concierge::http {

class AnswerCache {
 public:
  struct Limits {
    std::size_t max_entries = 256;
    std::size_t max_bytes = std::size_t{512} << 20;
  };
  explicit AnswerCache(Limits limits) : limits_(limits) {}
  AnswerCache() : AnswerCache(Limits{}) {}

  // The answer to `key` about `view` (at `index`; a view is immutable, so its identity and
  // index say what it holds), encoded by `encode` if nobody has asked it of this view yet.
  std::shared_ptr<const std::string> Get(std::string_view key,
                                         const std::shared_ptr<const void>& view,
                                         std::uint64_t index,
                                         const std::function<std::string()>& encode);

  // What is kept now: answers, and their bytes (encoded ones only).
  std::size_t entries() const;
  std::size_t bytes() const;
  // How many answers were encoded (cached or not) since the start.
  std::uint64_t encoded() const;

 private:
  struct Entry {
    std::string key;
    std::shared_ptr<const void> view;  // held: its address stays its own while cached
    std::uint64_t index = 0;
    std::once_flag once;
    std::shared_ptr<const std::string> bytes;
    std::size_t size = 0;  // counted in bytes_ once encoded
  };
  using Lru = std::list<std::shared_ptr<Entry>>;  // most recently asked first

  // Drops the least recently asked entries beyond the limits, never `keep`. Under mu_.
  void Trim(const Entry* keep);

  const Limits limits_;
  mutable std::mutex mu_;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator> by_key_;  // keys point into the entries
  std::size_t bytes_ = 0;
  std::uint64_t encoded_ = 0;
};

}  // namespace concierge::http
