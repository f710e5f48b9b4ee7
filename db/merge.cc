// Reading the store's layers as one (db/merge.h).
#include "blockwal/db/merge.h"

#include "blockwal/util/status_macros.h"

namespace blockwal::db {

std::vector<Entry> Overlay(const MemTable::Map& upper, const MemTable* lower,
                           absl::string_view start, absl::string_view limit) {
  std::vector<Entry> out;
  auto in_range = [&](const MemTable::Map& map) {
    auto first = map.lower_bound(start);
    auto last = limit.empty() ? map.end() : map.lower_bound(limit);
    return std::make_pair(first, last);
  };
  auto [u, u_end] = in_range(upper);
  if (lower == nullptr) {
    for (; u != u_end; ++u) out.emplace_back(u->first, &u->second);
    return out;
  }
  auto [l, l_end] = in_range(lower->map());
  while (u != u_end || l != l_end) {
    if (l == l_end || (u != u_end && u->first <= l->first)) {
      if (l != l_end && l->first == u->first) ++l;  // shadowed
      out.emplace_back(u->first, &u->second);
      ++u;
    } else {
      out.emplace_back(l->first, &l->second);
      ++l;
    }
  }
  return out;
}

// Calls emit for every live pair of the overlay merged over base (may be
// null; the overlay wins on equal keys and its deletions hide base pairs),
// start <= key < limit, in key order.
absl::Status MergeWithBase(const std::vector<Entry>& overlay,
                           const CheckpointTable* base,
                           absl::string_view start, absl::string_view limit,
                           CheckpointTable::Visitor emit) {
  size_t j = 0;
  auto emit_overlay = [&]() -> absl::Status {
    const Entry& e = overlay[j++];
    return e.second->has_value() ? emit(e.first, **e.second)
                                 : absl::OkStatus();
  };
  if (base != nullptr) {
    BW_RETURN_IF_ERROR(base->Scan(
        start, limit,
        [&](absl::string_view key, absl::string_view value) -> absl::Status {
          while (j < overlay.size() && overlay[j].first < key) {
            BW_RETURN_IF_ERROR(emit_overlay());
          }
          if (j < overlay.size() && overlay[j].first == key) {
            return emit_overlay();
          }
          return emit(key, value);
        }));
  }
  while (j < overlay.size()) BW_RETURN_IF_ERROR(emit_overlay());
  return absl::OkStatus();
}

// Live keys of mem over imm (may be null) over base (may be null).
absl::StatusOr<uint64_t> CountKeys(const MemTable& mem, const MemTable* imm,
                                   const CheckpointTable* base) {
  if (imm == nullptr && base == nullptr) return mem.live();
  const std::vector<Entry> overlay = Overlay(mem.map(), imm, "", "");
  uint64_t live = 0;
  for (const Entry& e : overlay) live += e.second->has_value() ? 1 : 0;
  if (base == nullptr) return live;
  // A key the overlay holds counts once whether or not base holds it too; a
  // deleted one not at all.
  std::vector<absl::string_view> keys;
  keys.reserve(overlay.size());
  for (const Entry& e : overlay) keys.push_back(e.first);
  BW_ASSIGN_OR_RETURN(const uint64_t shadowed, base->CountPresent(keys));
  return base->info().keys + live - shadowed;
}

}  // namespace blockwal::db
