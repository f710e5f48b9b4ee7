// MemTable (db/memtable.h): the ordered in-memory map of the writes since
// the last checkpoint.
#include "blockwal/db/memtable.h"

#include <utility>

namespace blockwal::db {

std::string PrefixLimit(absl::string_view prefix) {
  std::string limit(prefix);
  while (!limit.empty()) {
    const auto last = static_cast<unsigned char>(limit.back());
    if (last != 0xff) {
      limit.back() = static_cast<char>(last + 1);
      return limit;
    }
    limit.pop_back();
  }
  return limit;  // no bound
}

void MemTable::Put(absl::string_view key, absl::string_view value) {
  auto [it, inserted] = map_.try_emplace(std::string(key));
  if (inserted) {
    bytes_ += key.size();
  } else if (it->second.has_value()) {
    bytes_ -= it->second->size();
  } else {
    --tombstones_;
  }
  it->second.emplace(value.data(), value.size());
  bytes_ += value.size();
}

void MemTable::Delete(absl::string_view key) {
  auto it = map_.find(key);
  if (!keep_tombstones_) {
    if (it == map_.end()) return;
    bytes_ -= it->first.size();
    if (it->second.has_value()) {
      bytes_ -= it->second->size();
    } else {
      --tombstones_;
    }
    map_.erase(it);
    return;
  }
  if (it == map_.end()) {
    it = map_.try_emplace(std::string(key)).first;
    bytes_ += key.size();
    ++tombstones_;
  } else if (it->second.has_value()) {
    bytes_ -= it->second->size();
    it->second.reset();
    ++tombstones_;
  }
}

const std::optional<std::string>* MemTable::Find(absl::string_view key) const {
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}

const std::string* MemTable::Get(absl::string_view key) const {
  const std::optional<std::string>* entry = Find(key);
  return entry == nullptr || !entry->has_value() ? nullptr : &**entry;
}

void MemTable::Swap(MemTable* other) {
  map_.swap(other->map_);
  std::swap(bytes_, other->bytes_);
  std::swap(tombstones_, other->tombstones_);
  std::swap(keep_tombstones_, other->keep_tombstones_);
}

void MemTable::Clear() {
  map_.clear();
  bytes_ = 0;
  tombstones_ = 0;
}

}  // namespace blockwal::db
