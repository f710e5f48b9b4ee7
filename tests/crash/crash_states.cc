#include "tests/crash/crash_states.h"

#include <algorithm>
#include <limits>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::crash {
namespace {

constexpr uint64_t kSynced = std::numeric_limits<uint64_t>::max();

struct Choices {
  std::vector<uint64_t> lengths;
  std::vector<bool> torn;
};

// Makes `dir` and its missing parents.
absl::Status MakeDirs(FileSystem* fs, const std::string& dir) {
  std::string d = NormalizeDir(dir);
  if (d.empty() || d == "/") return absl::OkStatus();
  BW_RETURN_IF_ERROR(MakeDirs(fs, DirName(d)));
  return fs->CreateDir(d);
}

}  // namespace

void CrashLengths(const CrashSnapshot::File& file,
                  const EnumerateOptions& options,
                  std::vector<uint64_t>* lengths, std::vector<bool>* torn) {
  const std::string& synced = file.synced;
  const std::string& current = file.current;
  const bool extends = current.size() >= synced.size() &&
                       current.compare(0, synced.size(), synced) == 0;
  // Write boundaries a crash may cut at, from where the unsynced part starts.
  // A file truncated or remapped since its sync, with no write since, is
  // either as synced or as it is now: a truncation is never torn.
  const uint64_t from = extends ? synced.size() : 0;
  std::vector<uint64_t> ends;
  if (extends || !file.write_ends.empty()) ends.push_back(from);
  for (uint64_t e : file.write_ends) {
    if (e > from && e <= current.size()) ends.push_back(e);
  }
  ends.push_back(current.size());
  std::sort(ends.begin(), ends.end());
  ends.erase(std::unique(ends.begin(), ends.end()), ends.end());

  std::vector<std::pair<uint64_t, bool>> cuts;
  for (uint64_t e : ends) cuts.push_back({e, false});
  for (size_t i = 1; i < ends.size(); ++i) {
    const uint64_t a = ends[i - 1], b = ends[i];
    // Torn inside the write (a, b]: at each sector boundary in it.
    for (uint64_t t = (a / kSectorSize + 1) * kSectorSize; t < b;
         t += kSectorSize) {
      cuts.push_back({t, true});
    }
  }
  // By length; a length that is both a write end and a sector is a write end.
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end(),
                         [](const auto& x, const auto& y) {
                           return x.first == y.first;
                         }),
             cuts.end());
  // Thin evenly, always keeping the least and the most.
  const size_t budget = std::max<size_t>(options.max_cuts_per_file, 2) -
                        (extends ? 0 : 1);
  if (cuts.size() > budget) {
    std::vector<std::pair<uint64_t, bool>> kept;
    for (size_t i = 0; i < budget; ++i) {
      kept.push_back(cuts[i * (cuts.size() - 1) / (budget - 1)]);
    }
    cuts = std::move(kept);
  }
  lengths->clear();
  torn->clear();
  if (!extends) {
    lengths->push_back(kSynced);
    torn->push_back(false);
  }
  for (const auto& [length, is_torn] : cuts) {
    lengths->push_back(length);
    torn->push_back(is_torn);
  }
}

std::string CutContents(const CrashSnapshot::File& file, uint64_t length) {
  if (length == kSynced) return file.synced;
  return file.current.substr(0, length);
}

std::vector<CrashState> EnumerateCrashStates(const CrashSnapshot& snapshot,
                                             const EnumerateOptions& options) {
  std::vector<Choices> choices(snapshot.files.size());
  for (size_t i = 0; i < snapshot.files.size(); ++i) {
    CrashLengths(snapshot.files[i], options, &choices[i].lengths,
                 &choices[i].torn);
  }
  std::vector<CrashState> states;
  absl::flat_hash_set<std::string> seen;  // "path=choice;..." per state
  // Directories whose unsynced operations a crash may lose; each one's are
  // kept or lost independently (every combination, up to 2^4).
  std::vector<std::string> dirs;
  {
    std::set<std::string> differ;
    for (const auto& [path, index] : snapshot.live) {
      auto it = snapshot.durable.find(path);
      if (it == snapshot.durable.end() || it->second != index) {
        differ.insert(DirName(path));
      }
    }
    for (const auto& [path, index] : snapshot.durable) {
      if (!snapshot.live.contains(path)) differ.insert(DirName(path));
    }
    dirs.assign(differ.begin(), differ.end());
    if (dirs.size() > 4) dirs.resize(4);  // the rest: always kept
  }
  for (uint32_t lost = 0; lost < (1u << dirs.size()); ++lost) {
    // The names: durable ones in the directories whose operations are lost,
    // live ones elsewhere.
    std::map<std::string, size_t> names;
    std::string space = "dirs=";
    for (size_t d = 0; d < dirs.size(); ++d) {
      absl::StrAppend(&space, d > 0 ? "," : "", dirs[d],
                      (lost >> d) & 1 ? ":lost" : ":kept");
    }
    if (dirs.empty()) space += "synced";
    auto is_lost = [&](const std::string& path) {
      for (size_t d = 0; d < dirs.size(); ++d) {
        if (((lost >> d) & 1) && DirName(path) == dirs[d]) return true;
      }
      return false;
    };
    for (const auto& [path, index] : snapshot.live) {
      if (!is_lost(path)) names[path] = index;
    }
    for (const auto& [path, index] : snapshot.durable) {
      if (is_lost(path)) names[path] = index;
    }
    for (bool others_current : {false, true}) {
      // choice index per name; `varied` is the name whose choice is `pick`.
      auto emit = [&](const std::string* varied, size_t pick) {
        std::string key;
        CrashState state;
        for (const auto& [path, index] : names) {
          const Choices& c = choices[index];
          size_t k = others_current ? c.lengths.size() - 1 : 0;
          if (varied != nullptr && path == *varied) k = pick;
          absl::StrAppend(&key, path, "=", c.lengths[k], ";");
          state.files[path] = CutContents(snapshot.files[index], c.lengths[k]);
        }
        if (!seen.insert(key).second) return;
        state.description = absl::StrCat(
            space, " others=", others_current ? "current" : "synced");
        if (varied != nullptr) {
          const size_t index = names.at(*varied);
          const Choices& c = choices[index];
          const CrashSnapshot::File& f = snapshot.files[index];
          absl::StrAppend(&state.description, " ", *varied, ": ");
          if (c.lengths[pick] == kSynced) {
            absl::StrAppend(&state.description, "synced ", f.synced.size(),
                            " bytes (current ", f.current.size(), ")");
          } else {
            absl::StrAppend(&state.description, c.lengths[pick], " of ",
                            f.current.size(), " bytes (synced ",
                            f.synced.size(), ")",
                            c.torn[pick] ? " torn" : "");
          }
        }
        states.push_back(std::move(state));
      };
      emit(nullptr, 0);
      for (const auto& [path, index] : names) {
        for (size_t k = 0; k < choices[index].lengths.size(); ++k) {
          emit(&path, k);
        }
      }
    }
  }
  return states;
}

CrashState PowerLossState(const CrashSnapshot& snapshot) {
  CrashState state;
  state.description = "power loss: dirs=lost others=synced";
  for (const auto& [path, index] : snapshot.durable) {
    state.files[path] = snapshot.files[index].synced;
  }
  return state;
}

absl::StatusOr<std::unique_ptr<FileSystem>> Materialize(
    const CrashState& state, const std::vector<std::string>& dirs) {
  std::unique_ptr<FileSystem> fs = NewMemFileSystem();
  for (const std::string& dir : dirs) BW_RETURN_IF_ERROR(MakeDirs(fs.get(), dir));
  for (const auto& [path, contents] : state.files) {
    BW_RETURN_IF_ERROR(MakeDirs(fs.get(), DirName(path)));
    BW_RETURN_IF_ERROR(
        WriteStringToFile(fs.get(), contents, path, /*sync=*/false));
  }
  return fs;
}

}  // namespace blockwal::crash
