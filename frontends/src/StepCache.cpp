//===- StepCache.cpp - One thread's program cache -------------------------===//
#include "StepCache.h"

namespace kiln::detail {

std::shared_ptr<CachedStep> StepCache::find(const StructureKey &key) {
  // A training loop repeats its last step: compare with it before hashing
  // the whole key (the hash was a tenth of a small step's host time).
  if (!lru_.empty() && lru_.front()->key == key)
    return lru_.front();
  auto it = byHash_.find(key.hash());
  if (it == byHash_.end() || (*it->second)->key != key)
    return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second); // iterators stay valid
  return *it->second;
}

void StepCache::add(const std::shared_ptr<CachedStep> &step) {
  uint64_t hash = step->key.hash();
  if (auto it = byHash_.find(hash); it != byHash_.end())
    erase(it->second); // another structure with the same hash
  if (auto seen = evictedSightings_.find(hash); seen != evictedSightings_.end()) {
    step->sightings = seen->second;
    evictedSightings_.erase(seen);
  }
  while (byHash_.size() >= capacity_)
    evictLeastRecentlyUsed();
  lru_.push_front(step);
  byHash_[hash] = lru_.begin();
}

void StepCache::setCapacity(size_t capacity) {
  capacity_ = capacity;
  while (byHash_.size() > capacity_)
    evictLeastRecentlyUsed();
}

void StepCache::clear() {
  lru_.clear();
  byHash_.clear();
  evictedSightings_.clear();
  evictions_ = 0;
}

void StepCache::evictLeastRecentlyUsed() {
  const CachedStep &victim = *lru_.back();
  if (evictedSightings_.size() >= kMaxRemembered)
    evictedSightings_.clear();
  evictedSightings_[victim.key.hash()] = victim.sightings;
  ++evictions_;
  erase(std::prev(lru_.end()));
}

void StepCache::erase(Entries::iterator it) {
  byHash_.erase((*it)->key.hash());
  lru_.erase(it);
}

} // namespace kiln::detail
