// FaultInjectionFileSystem's crashes (util/fault_injection_file_system.h):
// what a crash now could leave (CrashSnapshot, for crash-state
// enumeration), and simulating one: dropping or tearing unsynced data, and
// undoing the directory changes no SyncDir made durable.
#include "blockwal/util/fault_injection_file_system.h"

#include <algorithm>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "blockwal/util/status_macros.h"

namespace blockwal {

// ---- crash-state enumeration ----

void FaultInjectionFileSystem::SetCrashObserver(
    std::function<void(const CrashSnapshot&)> observer) {
  absl::MutexLock l(&mu_);
  crash_observer_ = std::move(observer);
}

CrashSnapshot FaultInjectionFileSystem::Snapshot() {
  absl::MutexLock l(&mu_);
  return SnapshotLocked();
}

CrashSnapshot FaultInjectionFileSystem::SnapshotLocked() {
  CrashSnapshot snap;
  absl::flat_hash_map<const Node*, size_t> index;
  // A node's current contents are its live file's; a node with no live name
  // (removed, or renamed away and replaced) keeps its synced contents.
  auto file_of = [&](const std::shared_ptr<Node>& node,
                     const std::string* live_path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto [it, inserted] = index.try_emplace(node.get(), snap.files.size());
    if (inserted) {
      CrashSnapshot::File f;
      f.synced = node->synced;
      f.current = node->synced;
      f.write_ends = node->write_ends;
      snap.files.push_back(std::move(f));
    }
    if (live_path != nullptr) {
      absl::StatusOr<std::string> now = ReadFileToString(base_.get(), *live_path);
      if (now.ok()) snap.files[it->second].current = *std::move(now);
    }
    return it->second;
  };
  for (const auto& [path, node] : live_) {
    snap.live[path] = file_of(node, &path);
  }
  for (const auto& [path, node] : durable_) {
    if (node != nullptr) snap.durable[path] = file_of(node, nullptr);
  }
  // Live names whose creation is not durable are absent from durable_ (see
  // TrackLocked); untouched files are in neither.
  for (const std::string& dir : known_dirs_) {
    absl::StatusOr<std::vector<std::string>> children = base_->GetChildren(dir);
    if (!children.ok()) continue;
    for (const std::string& name : *children) {
      std::string path = JoinPath(dir, name);
      if (live_.contains(path) || durable_.contains(path)) continue;
      absl::StatusOr<std::string> contents = ReadFileToString(base_.get(), path);
      if (!contents.ok()) continue;  // a subdirectory
      CrashSnapshot::File f;
      f.synced = *contents;
      f.current = *std::move(contents);
      snap.live[path] = snap.durable[path] = snap.files.size();
      snap.files.push_back(std::move(f));
    }
  }
  return snap;
}

// ---- crash simulation ----

template <typename KeepFn>
absl::Status FaultInjectionFileSystem::RewriteTrackedFiles(KeepFn keep) {
  absl::MutexLock l(&mu_);
  for (const auto& [path, node] : live_) {
    absl::StatusOr<std::string> current = ReadFileToString(base_.get(), path);
    if (absl::IsNotFound(current.status())) continue;  // removed behind our back
    BW_RETURN_IF_ERROR(current.status());
    std::string kept = keep(*current, node->synced);
    if (kept != *current) {
      BW_RETURN_IF_ERROR(WriteStringToFile(base_.get(), kept, path, /*sync=*/false));
    }
    node->write_ends.clear();
    ++node->version;
  }
  return absl::OkStatus();
}

absl::Status FaultInjectionFileSystem::DropUnsyncedData() {
  return RewriteTrackedFiles(
      [](const std::string& current, const std::string& synced) { return synced; });
}

absl::Status FaultInjectionFileSystem::TearUnsyncedData(double keep_fraction) {
  keep_fraction = std::clamp(keep_fraction, 0.0, 1.0);
  return RewriteTrackedFiles([keep_fraction](const std::string& current,
                                             const std::string& synced) {
    // Only a file that grew past its synced contents has a torn tail; any
    // other unsynced change (rewrite, truncation) is simply lost.
    if (current.size() <= synced.size() ||
        current.compare(0, synced.size(), synced) != 0) {
      return synced;
    }
    uint64_t unsynced = current.size() - synced.size();
    uint64_t end = synced.size() + static_cast<uint64_t>(keep_fraction * unsynced);
    end -= end % kSectorSize;
    end = std::max<uint64_t>(end, synced.size());  // synced bytes never go
    return current.substr(0, end);
  });
}

absl::Status FaultInjectionFileSystem::DeleteFilesCreatedAfterLastDirSync() {
  absl::MutexLock l(&mu_);
  auto durable_node = [this](const std::string& path) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = durable_.find(path);
    return it == durable_.end() ? nullptr : it->second;
  };
  // Live names that a crash would not keep: created, or renamed into place,
  // since the last SyncDir of their directory.
  std::vector<std::string> doomed;
  for (const auto& [path, node] : live_) {
    if (durable_node(path) != node) doomed.push_back(path);
  }
  for (const std::string& path : doomed) {
    absl::Status s = base_->RemoveFile(path);
    if (!s.ok() && !absl::IsNotFound(s)) return s;
    live_.erase(path);
  }
  // Durable names a crash would bring back (removed, renamed away or
  // replaced since the last SyncDir), with their synced contents.
  for (const auto& [path, node] : durable_) {
    if (node == nullptr || live_.contains(path)) continue;
    BW_RETURN_IF_ERROR(
        WriteStringToFile(base_.get(), node->synced, path, /*sync=*/false));
    live_[path] = node;
    ++node->version;
  }
  return absl::OkStatus();
}

void FaultInjectionFileSystem::ResetState() {
  absl::MutexLock l(&mu_);
  live_.clear();
  durable_.clear();
}

}  // namespace blockwal
