#include "tools/repair_text.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace blockwal::tools {
namespace {

const char* Plural(uint64_t n, const char* one, const char* many) {
  return n == 1 ? one : many;
}

// The recovery and what it did (stdout).
std::string RecoveryLines(const wal::RepairResult& r) {
  const std::string mode = wal::RecoveryModeName(r.mode);
  std::string out;
  if (!r.indexes_removed.empty()) {
    absl::StrAppend(&out, "indexes removed to be rebuilt from their stores: ",
                    absl::StrJoin(r.indexes_removed, ", "), "\n");
  }
  if (!r.recovery.ok()) {
    absl::StrAppend(
        &out, "recovery (", mode, "): ",
        r.recovery.code() == absl::StatusCode::kDataLoss ? "refused" : "failed",
        "; no store was changed",
        r.indexes_removed.empty() ? "" : ", the removed indexes were put back",
        "\n");
    return out;
  }
  const wal::RecoveryReport& report = r.report;
  absl::StrAppend(&out, "recovery (", mode, "): ", report.segments,
                  Plural(report.segments, " segment, ", " segments, "),
                  report.records,
                  Plural(report.records, " record, ", " records, "),
                  report.store_bytes, " store bytes\n");
  absl::StrAppend(&out, "indexes rebuilt: ", report.indexes_rebuilt, " (",
                  report.index_entries_added, " entries added)\n");
  absl::StrAppend(&out, "torn bytes cut: ", report.torn_bytes_cut, "\n");
  absl::StrAppend(&out, "incomplete batches removed: ", report.batches_cut,
                  "\n");
  for (const wal::DamagedRegion& d : report.damage) {
    absl::StrAppend(&out, "damage found: ", d.file, " at position ", d.position,
                    ": ", d.reason, " (", d.bytes, " bytes)\n");
  }
  for (const std::string& w : report.warnings)
    absl::StrAppend(&out, "note: ", w, "\n");
  return out;
}

// The counts of the log after the repair (stdout).
std::string CountLines(const wal::RepairResult& r) {
  if (!r.recovery.ok()) return "";
  std::string out;
  absl::StrAppend(&out, "records kept: ", r.records_kept, "\n");
  absl::StrAppend(&out, "records skipped: ", r.records_skipped, "\n");
  absl::StrAppend(&out, "records cut: ", r.records_cut, "\n");
  for (const wal::ByteRange& b : r.bytes_cut) {
    absl::StrAppend(&out, "bytes cut: ", b.file, " [", b.begin, ", ", b.end,
                    ") (", b.end - b.begin, " bytes)\n");
  }
  return out;
}

// The remaining problems grouped by why they stayed, in order (stderr).
std::string RemainingLines(const wal::RepairResult& r) {
  std::vector<std::pair<std::string, std::vector<const wal::LogProblem*>>>
      groups;
  for (const wal::RemainingProblem& p : r.remaining) {
    if (groups.empty() || groups.back().first != p.why)
      groups.push_back({p.why, {}});
    groups.back().second.push_back(&p.problem);
  }
  std::string err;
  for (const auto& [why, problems] : groups) {
    for (const wal::LogProblem* p : problems) {
      absl::StrAppend(&err, "  ", p->file, " at position ", p->position, ": ",
                      p->description, "\n");
    }
    absl::StrAppend(&err, "  why: ", why, "\n");
  }
  return err;
}

std::string Headline(const wal::RepairResult& r) {
  if (!r.recovery.ok()) {
    return absl::StrCat("repair failed: ", r.recovery.message());
  }
  if (!r.status.ok())
    return absl::StrCat("repair failed: ", r.status.message());
  return absl::StrCat(
      "repair incomplete: ", r.remaining.size(),
      Plural(r.remaining.size(), " problem remains", " problems remain"));
}

}  // namespace

RepairText FormatRepair(const std::string& dir, const wal::RepairResult& r) {
  RepairText text;
  text.out = absl::StrCat(RecoveryLines(r), CountLines(r));
  if (r.clean()) {
    absl::StrAppend(&text.out, "result: repaired; the log verifies clean\n");
    return text;
  }
  absl::StrAppend(
      &text.out, "result: ", r.remaining.size(),
      Plural(r.remaining.size(), " problem remains", " problems remain"),
      r.recovery.ok() && r.status.ok() ? "" : ", the log was not repaired",
      " (listed on standard error)\n");
  text.err = absl::StrCat("walctl: ", Headline(r), "\n");
  if (!r.remaining.empty()) {
    absl::StrAppend(&text.err, "walctl: ", r.remaining.size(),
                    Plural(r.remaining.size(), " problem remains:\n",
                           " problems remain:\n"),
                    RemainingLines(r));
  }
  if (r.mode == wal::RecoveryMode::kPointInTime &&
      r.recovery.code() == absl::StatusCode::kDataLoss) {
    absl::StrAppend(&text.err, "walctl: 'walctl repair --force ", dir,
                    "' skips the damaged records instead (their offsets stay "
                    "taken and read as data loss)\n");
  }
  absl::StrAppend(
      &text.err, "walctl: ", r.recovery.ok() ? "" : "no record was removed; ",
      "the files as they were before the repair are in ", r.backup, "\n");
  return text;
}

}  // namespace blockwal::tools
