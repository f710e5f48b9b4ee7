#include "db/memtable.h"

#include <utility>

#include "absl/strings/match.h"

namespace blockwal::db {

void MemTable::Put(absl::string_view key, absl::string_view value) {
  auto [it, inserted] = map_.try_emplace(std::string(key));
  if (inserted) {
    bytes_ += key.size();
  } else {
    bytes_ -= it->second.size();
  }
  it->second.assign(value.data(), value.size());
  bytes_ += value.size();
}

void MemTable::Delete(absl::string_view key) {
  auto it = map_.find(key);
  if (it == map_.end()) return;
  bytes_ -= it->first.size() + it->second.size();
  map_.erase(it);
}

const std::string* MemTable::Get(absl::string_view key) const {
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : &it->second;
}

std::vector<KeyValue> MemTable::Scan(absl::string_view start,
                                     absl::string_view limit) const {
  std::vector<KeyValue> out;
  for (auto it = map_.lower_bound(start); it != map_.end(); ++it) {
    if (!limit.empty() && it->first >= limit) break;
    out.emplace_back(it->first, it->second);
  }
  return out;
}

std::vector<KeyValue> MemTable::ScanPrefix(absl::string_view prefix) const {
  std::vector<KeyValue> out;
  for (auto it = map_.lower_bound(prefix);
       it != map_.end() && absl::StartsWith(it->first, prefix); ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

void MemTable::CopyFrom(const MemTable& other) {
  map_ = other.map_;
  bytes_ = other.bytes_;
}

void MemTable::Swap(MemTable* other) {
  map_.swap(other->map_);
  std::swap(bytes_, other->bytes_);
}

void MemTable::Clear() {
  map_.clear();
  bytes_ = 0;
}

}  // namespace blockwal::db
