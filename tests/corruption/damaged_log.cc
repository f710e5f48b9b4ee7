// The damaged-log library of the corruption tests (damaged_log.h): building
// the pristine log and its model, drawing and applying damage, predicting
// each recovery mode's outcome, and checking reads and files against it.
#include "tests/corruption/damaged_log.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "blockwal/util/coding.h"
#include "blockwal/util/crc32c.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/index.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/segment.h"

namespace blockwal::corruption {

// ------------------------------------------------------------ environment

int Iterations(int fallback) {
  const char* v = getenv("BLOCKWAL_CORRUPTION_ITERATIONS");
  int n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) && n > 0 ? n : fallback;
}

uint64_t BaseSeed() {
  const char* v = getenv("BLOCKWAL_CORRUPTION_SEED");
  uint64_t n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) ? n : 20240601;
}

bool Strict() {
  const char* v = getenv("BLOCKWAL_CORRUPTION_STRICT");
  return v == nullptr || std::string(v) != "0";
}

uint64_t Uniform(std::mt19937_64& rng, uint64_t lo, uint64_t hi) {
  return lo + rng() % (hi - lo + 1);
}

// ------------------------------------------------------------ files

bool IsSegmentFile(const std::string& name) {
  uint64_t base;
  return wal::ParseSegmentFileName(name, wal::kStoreSuffix, &base) ||
         wal::ParseSegmentFileName(name, wal::kIndexSuffix, &base);
}

Files ReadSegmentFiles(FileSystem* fs, const std::string& dir) {
  Files files;
  absl::StatusOr<std::vector<std::string>> names = fs->GetChildren(dir);
  EXPECT_OK(names);
  if (!names.ok()) return files;
  for (const std::string& name : *names) {
    if (!IsSegmentFile(name)) continue;
    absl::StatusOr<std::string> data = ReadFileToString(fs, JoinPath(dir, name));
    EXPECT_OK(data);
    files[name] = data.ok() ? *data : "";
  }
  return files;
}

void WriteFiles(FileSystem* fs, const std::string& dir, const Files& files) {
  ASSERT_OK(fs->CreateDir(dir));
  for (const auto& [name, data] : files) {
    ASSERT_OK(WriteStringToFile(fs, data, JoinPath(dir, name), /*sync=*/false));
  }
}

void RemoveFlatDir(FileSystem* fs, const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = fs->GetChildren(dir);
  if (!names.ok()) return;
  for (const std::string& name : *names) {
    EXPECT_OK(fs->RemoveFile(JoinPath(dir, name)));
  }
  EXPECT_OK(fs->RemoveDir(dir));
}

std::string DiffFiles(const Files& want, const Files& got) {
  std::string out;
  for (const auto& [name, data] : want) {
    auto it = got.find(name);
    if (it == got.end()) {
      absl::StrAppend(&out, name, " missing; ");
    } else if (it->second != data) {
      const auto mismatch = std::mismatch(data.begin(), data.end(),
                                          it->second.begin(), it->second.end());
      absl::StrAppend(&out, name, " differs: ", data.size(), " -> ",
                      it->second.size(), " bytes, first difference at ",
                      mismatch.first - data.begin(), "; ");
    }
  }
  for (const auto& [name, data] : got) {
    if (!want.count(name)) absl::StrAppend(&out, name, " added; ");
  }
  return out;
}

std::string FsKindName(FsKind kind) {
  return kind == FsKind::kMem ? "Mem" : "Posix";
}

Scratch::Scratch(FsKind kind) : kind_(kind) {
  if (kind == FsKind::kMem) {
    owned_ = NewMemFileSystem();
    root_ = "/corruption";
    EXPECT_OK(owned_->CreateDir(root_));
  } else {
    scratch_.emplace("corruption");
    root_ = scratch_->str();
  }
}

void Scratch::Remove(const std::string& dir) const {
  if (kind_ == FsKind::kMem) {
    RemoveFlatDir(fs(), dir);
  } else {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
}

// ------------------------------------------------------------ the model

uint64_t RecordEnd(uint64_t position, uint64_t payload_bytes) {
  uint64_t p = position;
  uint64_t left = payload_bytes;
  bool first = true;
  while (first || left > 0) {
    const uint64_t room = wal::kBlockSize - p % wal::kBlockSize;
    if (room < static_cast<uint64_t>(wal::kHeaderSize)) {
      p += room;  // the zero trailer
      continue;
    }
    const uint64_t n = std::min(left, room - wal::kHeaderSize);
    p += wal::kHeaderSize + n;
    left -= n;
    first = false;
  }
  return p;
}

PristineLog BuildLog(FileSystem* fs, const std::string& dir, uint64_t seed) {
  PristineLog m;
  m.options.fs = fs;
  m.options.max_store_bytes = 3 * wal::kBlockSize;  // ~5 segments
  m.options.max_index_bytes = 512 * wal::kIndexEntrySize;
  auto now = std::make_shared<uint64_t>(1700000000000000);
  m.options.clock_us = [now] { return ++*now; };
  std::mt19937_64 rng(seed);

  auto value_of_size = [&](size_t n) {
    std::string v(n, '\0');
    for (char& c : v) c = static_cast<char>(rng());
    return v;
  };
  auto random_size = [&]() -> size_t {
    const uint64_t pick = Uniform(rng, 0, 99);
    if (pick < 60) return Uniform(rng, 0, 200);
    if (pick < 90) return Uniform(rng, 201, 4000);
    return Uniform(rng, 33 * 1024, 70 * 1024);  // spans blocks
  };

  std::vector<std::vector<std::string>> appended;  // per append, its values
  std::vector<uint64_t> first_offsets;
  // Values of the next append that leave exactly `leave` bytes in the block
  // (7: the next record starts with an empty FIRST; 1..6: a zero trailer),
  // or nothing when the store is about to roll.
  auto crafted = [&](const wal::Log& log, uint64_t max_store_bytes,
                     uint64_t leave) -> std::optional<std::string> {
    const auto active = log.Segments().back();
    uint64_t p = active->store_size();
    if (active->record_count() > 0 && p >= max_store_bytes) p = 0;
    const uint64_t room = wal::kBlockSize - p % wal::kBlockSize;
    const uint64_t overhead = wal::kHeaderSize + wal::kEnvelopeSize;
    if (room < leave + overhead || p + room - leave >= max_store_bytes) {
      return std::nullopt;
    }
    return value_of_size(room - leave - overhead);
  };

  // The first session fills several segments; the later ones all go to the
  // last, active segment (a larger max_store_bytes, which is not persisted),
  // so that it spans several blocks with sync-marked records among others.
  struct Session {
    wal::SyncPolicy policy;
    int appends;
    uint64_t max_store_bytes;
  };
  constexpr uint64_t kLarge = 1 << 20;
  const Session sessions[] = {
      {.policy = wal::SyncPolicy::kNone,
       .appends = 36,
       .max_store_bytes = m.options.max_store_bytes},
      {.policy = wal::SyncPolicy::kNone, .appends = 6, .max_store_bytes = kLarge},
      {.policy = wal::SyncPolicy::kEveryAppend, .appends = 3, .max_store_bytes = kLarge},
      {.policy = wal::SyncPolicy::kNone, .appends = 8, .max_store_bytes = kLarge},
      {.policy = wal::SyncPolicy::kEveryAppend, .appends = 2, .max_store_bytes = kLarge},
      {.policy = wal::SyncPolicy::kNone, .appends = 8, .max_store_bytes = kLarge},
  };
  int crafts_pending = 0;
  int crafts_done = 0;
  int op = 0;
  for (const Session& session : sessions) {
    wal::LogOptions options = m.options;
    options.sync_policy = session.policy;
    options.max_store_bytes = session.max_store_bytes;
    absl::StatusOr<std::unique_ptr<wal::Log>> log = wal::Log::Open(dir, options);
    EXPECT_OK(log);
    if (!log.ok()) return m;
    for (int i = 0; i < session.appends; ++i, ++op) {
      if (op % 9 == 4) ++crafts_pending;
      std::vector<std::string> values;
      const bool last_op = &session == &sessions[5] && i + 1 == session.appends;
      if (op == 2 || op == 38 || op == 47) {
        // FIRST, MIDDLE, LAST; the later two make the active segment long.
        values.push_back(value_of_size((op == 2 ? 70 : 50) * 1024));
      } else if (last_op) {
        for (int v = 0; v < 3; ++v) values.push_back(value_of_size(random_size() % 3000));
      } else if (crafts_pending > 0) {
        if (std::optional<std::string> v =
                crafted(**log, session.max_store_bytes,
                        crafts_done % 2 == 0 ? 7 : Uniform(rng, 1, 6))) {
          values.push_back(*std::move(v));
          --crafts_pending;
          ++crafts_done;
        }
      }
      if (values.empty() && Uniform(rng, 0, 99) < 15) {
        const uint64_t n = Uniform(rng, 2, 4);
        for (uint64_t v = 0; v < n; ++v) values.push_back(value_of_size(random_size() % 4000));
      }
      if (values.empty()) values.push_back(value_of_size(random_size()));
      std::vector<absl::string_view> views(values.begin(), values.end());
      absl::StatusOr<uint64_t> first = (*log)->AppendBatch(views);
      EXPECT_OK(first);
      if (!first.ok()) return m;
      first_offsets.push_back(*first);
      appended.push_back(std::move(values));
    }
    EXPECT_OK((*log)->Close());
  }

  // Read the model back from the closed log: positions from the index,
  // values, timestamps and flags from the records.
  absl::StatusOr<std::unique_ptr<wal::Log>> log = wal::Log::Open(dir, m.options);
  EXPECT_OK(log);
  if (!log.ok()) return m;
  for (const auto& seg : (*log)->Segments()) {
    ModelSegment s;
    s.base = seg->base_offset();
    s.count = seg->record_count();
    s.store = wal::SegmentFileName(s.base, wal::kStoreSuffix);
    s.index = wal::SegmentFileName(s.base, wal::kIndexSuffix);
    for (uint64_t o = s.base; o < s.base + s.count; ++o) {
      ModelRecord r;
      r.offset = o;
      r.segment = m.segments.size();
      r.position = seg->PositionOf(o);
      m.records.push_back(std::move(r));
    }
    m.segments.push_back(s);
  }
  for (size_t a = 0; a < appended.size(); ++a) {
    for (size_t v = 0; v < appended[a].size(); ++v) {
      const uint64_t o = first_offsets[a] + v;
      EXPECT_LT(o, m.records.size());
      if (o >= m.records.size()) return m;
      m.records[o].batch_first = first_offsets[a];
      m.records[o].value = appended[a][v];
    }
  }
  std::string scratch;
  for (ModelRecord& r : m.records) {
    absl::StatusOr<wal::Record> got = (*log)->Read(r.offset, &scratch);
    EXPECT_OK(got);
    if (!got.ok()) return m;
    EXPECT_TRUE(got->value == r.value) << "offset " << r.offset;
    r.timestamp_us = got->timestamp_us;
    r.flags = got->flags;
    r.end = RecordEnd(r.position, wal::kEnvelopeSize + r.value.size());
  }
  EXPECT_OK((*log)->Close());
  m.files = ReadSegmentFiles(fs, dir);

  // The layout must be what the block format says: each record starts where
  // the previous one ended, or after a zero trailer; each store ends with its
  // last record.
  for (size_t i = 0; i < m.records.size(); ++i) {
    const ModelRecord& r = m.records[i];
    const ModelSegment& s = m.segments[r.segment];
    if (r.offset == s.last()) {
      EXPECT_EQ(r.end, m.files[s.store].size()) << s.store;
    } else {
      const ModelRecord& next = m.records[i + 1];
      EXPECT_GE(next.position, r.end) << "offset " << r.offset;
      EXPECT_TRUE(next.position == r.end ||
                  (next.position % wal::kBlockSize == 0 &&
                   next.position - r.end < static_cast<uint64_t>(wal::kHeaderSize)))
          << "offset " << r.offset;
    }
    if (r.flags & wal::kSyncMarker) m.synced_below = r.offset + 1;
  }
  m.synced_below = std::max(m.synced_below, m.active().base);
  // Sync-marked records in the middle of an active segment of several
  // blocks.
  EXPECT_GT(m.synced_below, m.active().base + 1);
  EXPECT_LT(m.synced_below, m.records.size());
  EXPECT_GE(m.files[m.active().store].size(), 3u * wal::kBlockSize);
  // ...and what the inspector finds: a clean log with the same positions.
  size_t seen = 0;
  wal::InspectOptions inspect;
  inspect.on_record = [&](const wal::RecordLocation& loc, const wal::Record& rec) {
    if (rec.offset < m.records.size()) {
      EXPECT_EQ(loc.position, m.records[rec.offset].position) << rec.offset;
    }
    ++seen;
  };
  absl::StatusOr<wal::LogInspection> inspection = wal::InspectLog(fs, dir, inspect);
  EXPECT_OK(inspection);
  if (inspection.ok()) {
    EXPECT_TRUE(inspection->clean());
  }
  EXPECT_EQ(seen, m.records.size());

  // The shapes the damage must be able to hit.
  bool middle = false, empty_first = false, trailer = false, batch = false;
  for (size_t i = 0; i < m.records.size(); ++i) {
    const ModelRecord& r = m.records[i];
    middle |= r.end - r.position > 2u * wal::kBlockSize;
    empty_first |= r.position % wal::kBlockSize == wal::kBlockSize - wal::kHeaderSize;
    trailer |= i + 1 < m.records.size() && m.records[i + 1].position > r.end;
    batch |= r.batch_first != r.offset;
  }
  EXPECT_TRUE(middle && empty_first && trailer && batch)
      << middle << empty_first << trailer << batch;
  EXPECT_GE(m.segments.size(), 3u);
  EXPECT_NE(m.records.back().batch_first, m.records.back().offset);
  return m;
}

// ------------------------------------------------------------ damage

std::string TargetName(Target t) {
  switch (t) {
    case Target::kSealedStore: return "SealedStore";
    case Target::kActiveStore: return "ActiveStore";
    case Target::kSealedIndex: return "SealedIndex";
    case Target::kActiveIndex: return "ActiveIndex";
    case Target::kActiveStoreNoIndex: return "ActiveStoreNoIndex";
  }
  return "?";
}

bool IsStoreTarget(Target t) {
  return t == Target::kSealedStore || t == Target::kActiveStore ||
         t == Target::kActiveStoreNoIndex;
}

std::string Damage::Describe() const {
  const std::string also = drop_index ? ", index removed" : "";
  switch (kind) {
    case Kind::kBitFlip:
      return absl::StrFormat("bit %d flipped at position %d of %s (%s%s)", bit,
                             position, file, TargetName(target), also);
    case Kind::kZeroRange:
      return absl::StrFormat("%d bytes zeroed at position %d of %s (%s%s)",
                             length, position, file, TargetName(target), also);
    case Kind::kTruncate:
      return absl::StrFormat("%s truncated to %d bytes (%s%s)", file, position,
                             TargetName(target), also);
  }
  return "?";
}

void ApplyDamage(const Damage& d, Files* files) {
  if (d.drop_index) files->erase(d.index);
  std::string& data = (*files)[d.file];
  switch (d.kind) {
    case Kind::kBitFlip:
      data[d.position] = static_cast<char>(data[d.position] ^ (1 << d.bit));
      break;
    case Kind::kZeroRange:
      std::fill(data.begin() + d.position, data.begin() + d.position + d.length, '\0');
      break;
    case Kind::kTruncate:
      data.resize(d.position);
      break;
  }
}

Damage MakeDamage(const PristineLog& m, Target target, Kind kind,
                  std::mt19937_64& rng) {
  Damage d;
  d.target = target;
  d.kind = kind;
  d.segment = target == Target::kSealedStore || target == Target::kSealedIndex
                  ? Uniform(rng, 0, m.segments.size() - 2)
                  : m.segments.size() - 1;
  const ModelSegment& s = m.segments[d.segment];
  const bool store = IsStoreTarget(target);
  d.file = store ? s.store : s.index;
  d.index = s.index;
  d.drop_index = target == Target::kActiveStoreNoIndex;
  const std::string& data = m.files.at(d.file);
  const uint64_t size = data.size();
  const ModelRecord& last = m.records[s.last()];
  auto a_record = [&]() -> const ModelRecord& {
    return m.records[Uniform(rng, s.base, s.last())];
  };
  // A position in [0, size): uniform, or (stores) in a header, in the last
  // record, or near a block boundary.
  auto pick = [&]() -> uint64_t {
    const uint64_t how = Uniform(rng, 0, 99);
    if (!store || how < 45) return Uniform(rng, 0, size - 1);
    if (how < 70) return a_record().position + Uniform(rng, 0, wal::kHeaderSize - 1);
    if (how < 90) return Uniform(rng, last.position, last.end - 1);
    const uint64_t blocks = (size - 1) / wal::kBlockSize;
    const uint64_t boundary = Uniform(rng, 0, blocks) * wal::kBlockSize;
    return std::min(size - 1, boundary + Uniform(rng, 0, 15) -
                                  std::min<uint64_t>(boundary, 8));
  };
  for (int attempt = 0;; ++attempt) {
    switch (kind) {
      case Kind::kBitFlip:
        d.position = pick();
        d.bit = static_cast<int>(Uniform(rng, 0, 7));
        return d;
      case Kind::kZeroRange: {
        d.position = pick();
        const uint64_t how = Uniform(rng, 0, 99);
        const uint64_t len = how < 50   ? Uniform(rng, 1, 16)
                             : how < 85 ? Uniform(rng, 17, 512)
                                        : Uniform(rng, 513, 2 * wal::kBlockSize);
        d.length = std::min(len, size - d.position);
        const bool changes = std::any_of(
            data.begin() + d.position, data.begin() + d.position + d.length,
            [](char c) { return c != '\0'; });
        if (changes || attempt > 100) return d;
        break;
      }
      case Kind::kTruncate: {
        const uint64_t how = Uniform(rng, 0, 99);
        if (how < 25) {
          // At a record boundary (store) or an entry boundary (index).
          d.position = store ? m.records[Uniform(rng, s.base, s.last())].position
                             : Uniform(rng, 0, s.count - 1) * wal::kIndexEntrySize;
        } else if (how < 35 && store) {
          d.position = Uniform(rng, 0, (size - 1) / wal::kBlockSize) * wal::kBlockSize;
        } else {
          d.position = Uniform(rng, 0, size - 1);
        }
        return d;
      }
    }
  }
}

Damage MakeIterationDamage(const PristineLog& m, Target target,
                           uint64_t seed, int iteration,
                           std::mt19937_64* rng, Files* damaged) {
  rng->seed(seed * 1000003 + static_cast<uint64_t>(target) * 7919 + iteration);
  const Damage d = MakeDamage(m, target, static_cast<Kind>(iteration % 3), *rng);
  *damaged = m.files;
  ApplyDamage(d, damaged);
  return d;
}

// ------------------------------------------------------------ the oracle

std::vector<uint64_t> HitRecords(const PristineLog& m, const Damage& d,
                                 const Files& damaged) {
  std::vector<uint64_t> hit;
  if (!IsStoreTarget(d.target)) return hit;
  const ModelSegment& s = m.segments[d.segment];
  const std::string& before = m.files.at(d.file);
  const std::string& after = damaged.at(d.file);
  for (uint64_t o = s.base; o <= s.last(); ++o) {
    const ModelRecord& r = m.records[o];
    bool is_hit = false;
    if (d.kind == Kind::kTruncate) {
      is_hit = r.end > after.size();
    } else {
      for (uint64_t p = r.position; p < r.end && !is_hit; ++p) {
        is_hit = before[p] != after[p];
      }
    }
    if (is_hit) hit.push_back(o);
  }
  return hit;
}

std::set<uint64_t> ChangedIndexEntries(const PristineLog& m,
                                       const Damage& d,
                                       const Files& damaged) {
  std::set<uint64_t> changed;
  if (IsStoreTarget(d.target)) return changed;
  const ModelSegment& s = m.segments[d.segment];
  const std::string& before = m.files.at(d.file);
  const std::string& after = damaged.at(d.file);
  for (uint64_t e = 0; e < s.count; ++e) {
    const uint64_t at = e * wal::kIndexEntrySize;
    if (at + wal::kIndexEntrySize > after.size()) break;
    if (before.compare(at, wal::kIndexEntrySize, after, at,
                       wal::kIndexEntrySize) != 0) {
      changed.insert(s.base + e);
    }
  }
  return changed;
}

std::vector<ScanItem> ReferenceScan(const std::string& file) {
  using wal::kBlockSize;
  using wal::kHeaderSize;
  std::vector<ScanItem> items;
  auto report = [&](uint64_t at) {
    items.push_back({.damage = true, .position = at, .payload = ""});
  };
  bool in_record = false;  // a FIRST was read, its LAST not yet
  uint64_t record_start = 0;
  std::string assembled;
  // A bad fragment also drops the record it was part of.
  auto drop_partial = [&] {
    if (in_record) report(record_start);
    in_record = false;
    assembled.clear();
  };
  for (uint64_t block = 0; block < file.size(); block += kBlockSize) {
    const uint64_t limit = std::min<uint64_t>(block + kBlockSize, file.size());
    const bool last = limit - block < static_cast<uint64_t>(kBlockSize);
    uint64_t p = block;
    while (true) {
      if (limit - p < static_cast<uint64_t>(kHeaderSize)) {
        if (last) return items;  // a header cut off by the end of the file
        break;                   // the block's trailer
      }
      const uint32_t length = DecodeFixed16(file.data() + p + 4);
      const uint8_t type = static_cast<uint8_t>(file[p + 6]);
      if (p + kHeaderSize + length > limit) {
        if (last) return items;  // a payload cut off by the end of the file
        report(p);               // bad record length: the rest of the block goes
        drop_partial();
        break;
      }
      if (type == wal::kZeroType && length == 0) {
        drop_partial();  // preallocated space: the rest of the block, silently
        break;
      }
      if (crc32c::Value(file.data() + p + 6, 1 + length) !=
          crc32c::Unmask(DecodeFixed32(file.data() + p))) {
        report(p);  // checksum mismatch: the rest of the block goes
        drop_partial();
        break;
      }
      const std::string fragment = file.substr(p + kHeaderSize, length);
      const uint64_t at = p;
      p += kHeaderSize + length;
      switch (type) {
        case wal::kFullType:
          if (in_record && !assembled.empty()) report(record_start);
          in_record = false;
          assembled.clear();
          items.push_back({.position = at, .end = p, .payload = fragment});
          break;
        case wal::kFirstType:
          if (in_record && !assembled.empty()) report(record_start);
          in_record = true;
          record_start = at;
          assembled = fragment;
          break;
        case wal::kMiddleType:
        case wal::kLastType:
          if (!in_record) {
            report(at);  // missing start of fragmented record
            break;
          }
          assembled += fragment;
          if (type == wal::kLastType) {
            items.push_back(
                {.position = record_start, .end = p, .payload = assembled});
            in_record = false;
            assembled.clear();
          }
          break;
        default:
          report(in_record ? record_start : at);  // unknown record type
          in_record = false;
          assembled.clear();
      }
    }
  }
  return items;  // a record still open at the end of the file: dropped
}

Expectation PredictFullScan(const PristineLog& m, const Files& damaged,
                            wal::RecoveryMode mode, bool issues) {
  bool gap = false;  // issue 4 changed something
  using wal::RecoveryMode;
  Expectation e;
  const ModelSegment& s = m.active();
  const std::string& store = damaged.at(s.store);
  e.damaged_store = s.store;
  e.damage_may_be_reported = true;
  e.lost_at_own_position = false;
  struct Entry {
    uint64_t position = 0;
    uint64_t end = 0;
    uint8_t flags = 0;
    bool lost = false;  // skip mode: an offset kept for a record not found
  };
  std::vector<Entry> entries;  // offsets s.base, s.base + 1, ...
  uint64_t good_end = 0;       // end of the last record kept
  uint64_t prefix_end = 0;     // end of the last record before any damage
  bool damage = false, valid_after = false, synced_after = false;
  for (const ScanItem& item : ReferenceScan(store)) {
    // The envelope (wal/record.h): offset u64, timestamp u64, flags u8.
    if (item.damage || item.payload.size() < wal::kEnvelopeSize ||
        (static_cast<uint8_t>(item.payload[16]) & ~wal::kKnownFlags) != 0) {
      damage = true;
      continue;
    }
    const uint64_t offset = DecodeFixed64(item.payload.data());
    const uint8_t flags = static_cast<uint8_t>(item.payload[16]);
    const uint64_t expected = s.base + entries.size();
    if (offset == expected && !damage) {
      entries.push_back({.position = item.position, .end = item.end, .flags = flags});
      good_end = prefix_end = item.end;
      continue;
    }
    if (offset < expected) {
      damage = true;
      continue;
    }
    if (!damage) {
      // Records missing, nothing reported: the gap is damage.
      damage = true;
      if (issues) {
        gap = true;
        continue;
      }
    }
    // "Records found after it are valid records after damage, and one that
    // carries the sync marker is a synced record after damage."
    valid_after = true;
    synced_after |= (flags & wal::kSyncMarker) != 0;
    if (mode == RecoveryMode::kSkipAnyCorruptedRecords) {
      while (s.base + entries.size() < offset) entries.push_back({.lost = true});
      entries.push_back({.position = item.position, .end = item.end, .flags = flags});
      good_end = item.end;
    }
  }
  // A batch cut off: its kept records are removed whole.
  uint64_t count = entries.size();
  while (count > 0 && !entries[count - 1].lost &&
         (entries[count - 1].flags & wal::kBatchContinues) != 0) {
    --count;
  }
  e.batches_cut = count < entries.size() ? 1 : 0;
  // As in Predict: the cut should end at the last kept record (known issue
  // 5 when it does not).
  const uint64_t kept_end = !e.batches_cut ? good_end
                            : count == 0   ? 0
                            : entries[count - 1].lost ? entries[count].position
                                                      : entries[count - 1].end;
  const uint64_t cut = !issues || !e.batches_cut ? kept_end : entries[count].position;
  const bool any = damage || good_end < store.size() || e.batches_cut > 0;
  bool refused = false;
  switch (mode) {
    case RecoveryMode::kAbsoluteConsistency: refused = any; break;
    case RecoveryMode::kTolerateCorruptedTailRecords: refused = any && valid_after; break;
    case RecoveryMode::kPointInTime: refused = any && synced_after; break;
    case RecoveryMode::kSkipAnyCorruptedRecords: break;
  }
  e.damage_lo = prefix_end;
  if (gap) e.known_issue = "record after a zeroed region taken for damage";
  if (refused) {
    e.outcome = "refused";
    e.opens = false;
    e.error_file = s.store;
    e.position_lo = cut;
    e.position_hi = store.size();
    return e;
  }
  e.next_offset = s.base + count;
  e.last_store_size = cut;
  if (cut != kept_end) {
    e.trailer_left = cut - kept_end;
    e.known_issue = "batch cut leaves trailer zeros";
  }
  for (uint64_t i = 0; i < count; ++i) {
    if (entries[i].lost) e.lost.insert(s.base + i);
  }
  e.records_skipped = e.lost.size();
  e.outcome = !e.lost.empty()          ? "records skipped after a full scan"
              : cut < store.size()     ? "tail cut after a full scan"
                                       : "nothing lost";
  return e;
}

Expectation Predict(const PristineLog& m, const Damage& d,
                    const Files& damaged, wal::RecoveryMode mode,
                    bool issues) {
  using wal::RecoveryMode;
  if (d.target == Target::kActiveStoreNoIndex) {
    return PredictFullScan(m, damaged, mode, issues);
  }
  Expectation e;
  const size_t j = d.segment;
  const ModelSegment& s = m.segments[j];
  const bool sealed = m.sealed(j);
  e.next_offset = m.records.size();
  e.last_store_size = damaged.at(m.active().store).size();
  e.damaged_store = s.store;

  if (!IsStoreTarget(d.target)) {
    // "In every mode a missing, short, zero-tailed, garbage or wrong index
    // is rebuilt from the store silently": nothing is lost.
    e.outcome = "index rebuilt";
    if (mode != RecoveryMode::kAbsoluteConsistency) {
      e.index_may_stay = true;
      if (issues) e.maybe_lost = ChangedIndexEntries(m, d, damaged);
    }
    return e;
  }

  const std::vector<uint64_t> hit = HitRecords(m, d, damaged);
  if (hit.empty()) return e;  // a trailer byte, or zeros zeroed: no record changed
  const uint64_t size = damaged.at(d.file).size();
  const uint64_t k = hit.front();
  const bool last_hit = hit.back() == s.last();
  const uint64_t prev_end = k > s.base ? m.records[k - 1].end : 0;
  // The last segment never ends in part of a batch: recovery removes the
  // kept records of a batch that lost its end ("batch cut").
  const uint64_t cut_to = sealed ? k : m.records[k].batch_first;
  // "What is kept ends at the last good record; anything after it is cut."
  // KNOWN ISSUE 5: a batch cut cuts at the first removed record instead, so
  // the zero trailer before it (when it starts a block) stays.
  const uint64_t kept_end = cut_to == k ? prev_end
                            : cut_to > s.base ? m.records[cut_to - 1].end
                                              : 0;
  const uint64_t library_cut = cut_to == k ? prev_end : m.records[cut_to].position;
  const uint64_t cut_position = issues ? library_cut : kept_end;
  const bool boundary_cut = d.kind == Kind::kTruncate && size == prev_end;
  e.damage_may_be_reported = d.kind != Kind::kTruncate;  // a cut is silent
  e.damage_lo = cut_position;

  auto refuse = [&](const std::string& file) {
    e.outcome = "refused";
    e.opens = false;
    e.error_file = file;
    e.position_lo = cut_position;
    e.position_hi = d.kind == Kind::kTruncate ? cut_position : size - 1;
  };
  // A sealed store cut exactly after a record holds no damage: Open drops
  // the index entries past its end and then fails at the chain check, naming
  // the next segment's store and no position. KNOWN ISSUE 2, see
  // Regression_SealedStoreCutAtRecordBoundaryFailsOpenWithoutNamingIt.
  auto refuse_cut_sealed_store = [&] {
    refuse(s.store);
    if (issues) {
      e.error_file = m.segments[j + 1].store;
      e.error_names_position = false;
      e.known_issue = "sealed store cut at a record boundary";
    }
  };

  if (mode == RecoveryMode::kAbsoluteConsistency) {
    // "Every segment is read in full; any damage at all, a torn last record
    // or a cut-off batch included, fails the open." A store of the last
    // segment cut exactly after a record is no damage: only index entries
    // past the end of the store, which every mode drops.
    if (!sealed && boundary_cut && cut_to == k) {
      e.outcome = "cut after a record";
      e.next_offset = k;
      e.last_store_size = prev_end;
    } else if (sealed && boundary_cut) {
      refuse_cut_sealed_store();
    } else {
      refuse(s.store);
    }
    return e;
  }
  if (sealed) {
    // "Sealed segments get a cheap check: its last entry points at a record
    // that verifies and ends where the store ends. Damage elsewhere in a
    // sealed segment is not looked for: it is found when the record is read."
    if (!last_hit) {
      e.outcome = "hit records read kDataLoss";
      e.lost.insert(hit.begin(), hit.end());
      return e;
    }
    // The cheap check fails: "any damage found there fails the open, because
    // a sealed segment holds only synced data, except in skip mode. Skip
    // mode never cuts a sealed store: the damaged records are skipped and the
    // offsets lost at its end stay taken up to the next segment's base,
    // reading kDataLoss."
    if (mode == RecoveryMode::kSkipAnyCorruptedRecords) {
      e.outcome = "sealed tail skipped";
      e.lost.insert(hit.begin(), hit.end());
      e.lost_at_own_position = false;
      e.records_skipped = hit.size();
      return e;
    }
    if (boundary_cut) {
      refuse_cut_sealed_store();
    } else {
      refuse(s.store);
    }
    return e;
  }
  // The last segment: "Trust the longest prefix of index entries whose last
  // entry verifies. Damage inside the trusted prefix is not looked for."
  if (!last_hit) {
    e.outcome = "hit records read kDataLoss";
    e.lost.insert(hit.begin(), hit.end());
    return e;
  }
  // Damage reaching the end of the last segment has nothing valid after it:
  // cut in tolerate-tail, point-in-time and skip modes alike (with the
  // batch it ends, if it ends in the middle of one).
  e.outcome = cut_to != k ? "tail cut with its batch" : "tail cut";
  e.next_offset = cut_to;
  e.last_store_size = cut_position;
  e.batches_cut = cut_to != k ? 1 : 0;
  if (cut_position != kept_end) {
    e.trailer_left = cut_position - kept_end;
    e.known_issue = "batch cut leaves trailer zeros";
  }
  return e;
}

std::vector<Expectation> Candidates(const PristineLog& m, const Damage& d,
                                    const Files& damaged,
                                    wal::RecoveryMode mode) {
  std::vector<Expectation> out = {Predict(m, d, damaged, mode, /*issues=*/false)};
  if (Strict()) return out;
  Expectation issue = Predict(m, d, damaged, mode, /*issues=*/true);
  const Expectation& doc = out[0];
  if (issue.opens == doc.opens && issue.error_file == doc.error_file &&
      issue.next_offset == doc.next_offset && issue.lost == doc.lost &&
      issue.last_store_size == doc.last_store_size &&
      issue.records_skipped == doc.records_skipped &&
      issue.batches_cut == doc.batches_cut) {
    out[0].maybe_lost = issue.maybe_lost;
    return out;
  }
  out.push_back(std::move(issue));
  return out;
}

const Expectation& Select(const std::vector<Expectation>& candidates,
                          const std::string& dir, const PristineLog& m,
                          const Files& damaged, const Observed& o) {
  const uint64_t last_store = damaged.at(m.active().store).size();
  for (const Expectation& e : candidates) {
    if (e.opens != o.opened) continue;
    if (!e.opens) {
      if (absl::StrContains(o.error, JoinPath(dir, e.error_file))) return e;
    } else if (e.next_offset == o.next_offset &&
               e.records_skipped == o.records_skipped &&
               e.batches_cut == o.batches_cut &&
               last_store - e.last_store_size == o.torn_bytes_cut) {
      return e;
    }
  }
  return candidates.front();
}

// ------------------------------------------------------------ checks

std::string Counters::Line(uint64_t seed) const {
  auto join = [](const std::map<std::string, uint64_t>& counts) {
    std::string out;
    for (const auto& [what, n] : counts) {
      absl::StrAppend(&out, out.empty() ? "" : ", ", what, " ", n);
    }
    return out.empty() ? std::string("none") : out;
  };
  return absl::StrFormat(
      "corruption: %d damaged logs, %d reads checked (seed %d; %d opens, "
      "%d refused, %d reads of lost records; outcomes: %s; known issues "
      "tolerated: %s)",
      damaged_logs, reads, seed, opens, refused, lost_reads, join(outcomes),
      join(known_issues));
}

std::optional<uint64_t> AtPosition(const std::string& message) {
  static const std::regex kAt("at position ([0-9]+)");
  std::smatch match;
  uint64_t n = 0;
  if (!std::regex_search(message, match, kAt) ||
      !absl::SimpleAtoi(match[1].str(), &n)) {
    return std::nullopt;
  }
  return n;
}

void ExpectReads(const wal::Log& log, const std::string& dir,
                 const PristineLog& m, const Expectation& e,
                 Counters* c) {
  using ::blockwal::testing::StatusIs;
  using ::testing::AllOf;
  using ::testing::ContainsRegex;
  using ::testing::HasSubstr;
  EXPECT_EQ(log.LowestOffset(), 0u);
  EXPECT_EQ(log.NextOffset(), e.next_offset);
  std::string scratch;
  const uint64_t past = std::max<uint64_t>(m.records.size(), e.next_offset) + 2;
  for (uint64_t o = 0; o < past; ++o) {
    absl::StatusOr<wal::Record> r = log.Read(o, &scratch);
    ++c->reads;
    if (o >= e.next_offset) {
      EXPECT_THAT(r, StatusIs(absl::StatusCode::kOutOfRange)) << "offset " << o;
      continue;
    }
    const ModelRecord& want = m.records[o];
    const std::string store = JoinPath(dir, m.segments[want.segment].store);
    const bool lost = e.lost.count(o) > 0;
    if (lost || (e.maybe_lost.count(o) > 0 && !r.ok())) {
      EXPECT_THAT(r, StatusIs(absl::StatusCode::kDataLoss,
                              AllOf(HasSubstr(store), ContainsRegex("position [0-9]+"))))
          << "offset " << o;
      if (lost && e.lost_at_own_position) {
        EXPECT_THAT(r.status().message(),
                    HasSubstr(absl::StrCat("position ", want.position)))
            << "offset " << o;
      }
      if (lost) {
        ++c->lost_reads;
      } else {
        ++c->known_issues["intact record read kDataLoss (wrong index entry)"];
      }
      continue;
    }
    if (!r.ok()) {
      ADD_FAILURE() << "offset " << o << " (intact) reads " << r.status();
      continue;
    }
    EXPECT_EQ(r->offset, o);
    EXPECT_EQ(r->timestamp_us, want.timestamp_us) << "offset " << o;
    EXPECT_EQ(r->flags, want.flags) << "offset " << o;
    EXPECT_TRUE(r->value == want.value)
        << "offset " << o << ": wrong value of " << r->value.size()
        << " bytes, want " << want.value.size();
  }

  // Iteration sees the same: runs of exact records, stopped by lost ones.
  uint64_t from = 0;
  while (from < e.next_offset) {
    std::unique_ptr<wal::LogIterator> it = log.NewIterator(from);
    wal::Record r;
    uint64_t o = from;
    while (it->Next(&r)) {
      ++c->reads;
      if (o >= e.next_offset || e.lost.count(o) > 0) {
        ADD_FAILURE() << "iterator returned offset " << r.offset
                      << ", which should not read";
        return;
      }
      EXPECT_EQ(r.offset, o);
      EXPECT_TRUE(r.value == m.records[o].value) << "iterator, offset " << o;
      ++o;
    }
    if (o >= e.next_offset) {
      EXPECT_OK(it->status());
      break;
    }
    EXPECT_TRUE(e.lost.count(o) > 0 || e.maybe_lost.count(o) > 0)
        << "iterator stopped at intact offset " << o << ": " << it->status();
    EXPECT_THAT(it->status(),
                StatusIs(absl::StatusCode::kDataLoss,
                         HasSubstr(JoinPath(dir, m.segments[m.records[o].segment].store))))
        << "iterator at offset " << o;
    from = o + 1;
  }
}

void ExpectFilesAfterClose(const PristineLog& m, const Damage& d,
                           const Files& damaged, const Expectation& e,
                           const Files& actual, Counters* c) {
  for (size_t j = 0; j < m.segments.size(); ++j) {
    const ModelSegment& s = m.segments[j];
    const bool last = j + 1 == m.segments.size();
    const auto store = actual.find(s.store);
    const auto index = actual.find(s.index);
    if (store == actual.end() || index == actual.end()) {
      ADD_FAILURE() << s.store << " or its index is missing after the open";
      continue;
    }
    const std::string& damaged_store = damaged.at(s.store);
    EXPECT_TRUE(store->second ==
                (last ? damaged_store.substr(0, e.last_store_size) : damaged_store))
        << s.store << " after the open: " << store->second.size()
        << " bytes; sealed stores are never changed, the last one only cut";
    const uint64_t kept =
        std::min(s.count, e.next_offset > s.base ? e.next_offset - s.base : 0);
    const std::string want =
        m.files.at(s.index).substr(0, kept * wal::kIndexEntrySize);
    if (index->second == want) continue;
    if (j == d.segment && e.records_skipped > 0) {
      // Skip mode: entries of the lost offsets point into the damage; the
      // others are the records' own.
      EXPECT_EQ(index->second.size(), kept * wal::kIndexEntrySize) << s.index;
      for (uint64_t i = 0; i < kept && index->second.size() == want.size(); ++i) {
        if (e.lost.count(s.base + i)) continue;
        EXPECT_EQ(index->second.substr(i * wal::kIndexEntrySize, wal::kIndexEntrySize),
                  want.substr(i * wal::kIndexEntrySize, wal::kIndexEntrySize))
            << s.index << " entry " << i;
      }
      continue;
    }
    if (j == d.segment && e.index_may_stay && damaged.count(s.index) &&
        index->second == damaged.at(s.index)) {
      ++c->known_issues["damaged index left in place"];
      continue;
    }
    ADD_FAILURE() << s.index << " after the open and a clean close: "
                  << index->second.size() << " bytes, want the "
                  << kept << " entries of the kept records";
  }
  for (const auto& [name, data] : actual) {
    EXPECT_TRUE(m.files.count(name) > 0) << name << " appeared";
  }
}

}  // namespace blockwal::corruption
