// walctl tail: the newest records of a log directory, or those from an offset
// or a time on, and with --follow the records appended after them.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "tools/cli.h"
#include "tools/walctl/args.h"
#include "tools/walctl/output.h"
#include "tools/walctl/subcommands.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"
#include "blockwal/wal/log_inspector.h"

namespace blockwal::tools::walctl {
namespace {

// Records shown when neither --from nor --from-time is given.
constexpr uint64_t kDefaultTailRecords = 10;
// How often --follow looks for new records.
constexpr absl::Duration kFollowPollInterval = absl::Milliseconds(100);

constexpr FlagSpec kTailFlags[] = {{"from", /*takes_value=*/true},
                                   {"from-time", /*takes_value=*/true},
                                   {"json"},
                                   {"follow"},
                                   {"max-wait-ms", /*takes_value=*/true}};

// Parses --from-time: microseconds since the Unix epoch, or an ISO-8601 /
// RFC 3339 time ("2023-11-14T22:13:20Z", "...20.000001Z", "...+01:00"; UTC
// when it names no zone).
bool ParseTimeFlag(absl::string_view text, uint64_t* timestamp_us) {
  if (ParseOffset(text, timestamp_us)) return true;
  absl::Time t;
  std::string ignored;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, &ignored) &&
      !absl::ParseTime("%Y-%m-%d%ET%H:%M:%E*S", text, absl::UTCTimeZone(), &t,
                       &ignored)) {
    return false;
  }
  if (t < absl::UnixEpoch()) return false;
  // Round a fraction of a microsecond up: a record at 1 µs is not at or
  // after 1.5 µs.
  int64_t us = absl::ToUnixMicros(t);
  if (absl::FromUnixMicros(us) < t) ++us;
  *timestamp_us = static_cast<uint64_t>(us);
  return true;
}

// The first record at or after `offset` (its offset and timestamp), or
// nullopt when there is none.
struct RecordStamp {
  uint64_t offset = 0;
  uint64_t timestamp_us = 0;
};
absl::StatusOr<std::optional<RecordStamp>> FirstRecordFrom(
    FileSystem* fs, const std::string& dir, uint64_t offset) {
  std::optional<RecordStamp> found;
  BW_RETURN_IF_ERROR(wal::ForEachRecord(
      fs, dir, offset, [&](const wal::RecordLocation&, const wal::Record& r) {
        found = RecordStamp{r.offset, r.timestamp_us};
        return false;
      }));
  return found;
}

// The first offset in `range` whose record's timestamp is at or after
// `timestamp_us`, or range.next when every record is older. Timestamps never
// decrease along a log, so a binary search over offsets finds it with
// O(log n) cheap reads (each starts at the offset's index entry).
absl::StatusOr<uint64_t> FindOffsetForTime(FileSystem* fs,
                                           const std::string& dir,
                                           const wal::OffsetRange& range,
                                           uint64_t timestamp_us) {
  uint64_t lo = range.first;
  uint64_t hi = range.next;  // the answer is in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo) / 2;
    BW_ASSIGN_OR_RETURN(std::optional<RecordStamp> r,
                        FirstRecordFrom(fs, dir, mid));
    if (!r.has_value() || r->timestamp_us >= timestamp_us) {
      hi = mid;
    } else {
      lo = r->offset + 1;
    }
  }
  return lo;
}

// Prints the records at and after *next whose timestamp is at least
// min_timestamp_us; sets *next past the last one printed and counts them in
// *printed. With skip_seen, records below *next are not printed even if the
// store presents them (a damaged log may repeat offsets), so a follower never
// prints one twice.
absl::Status PrintRecordsFrom(FileSystem* fs, const std::string& dir, bool json,
                              uint64_t min_timestamp_us, bool skip_seen,
                              uint64_t* next, uint64_t* printed) {
  const uint64_t from = *next;
  return wal::ForEachRecord(
      fs, dir, from, [&](const wal::RecordLocation& loc, const wal::Record& r) {
        if (r.timestamp_us < min_timestamp_us) return true;
        if (skip_seen && r.offset < *next) return true;
        Write(stdout, json ? RecordJson(loc, r)
                           : absl::StrCat(r.offset, "\t", EscapeValue(r.value),
                                          "\n"));
        *next = std::max(*next, r.offset + 1);
        ++*printed;
        return true;
      });
}


// What a tail command line asks for.
struct TailRequest {
  std::string dir;
  bool json = false;
  bool follow = false;
  bool has_from = false;
  uint64_t from = 0;  // --from
  bool has_from_time = false;
  // --from-time; 0 without it, so that every record passes the filter.
  uint64_t from_time_us = 0;
  std::optional<absl::Duration> max_wait;  // --max-wait-ms
};

// Parses tail's command line into *request. Returns an exit code to return
// at once (its help, or a usage error), or nullopt to go on.
std::optional<int> ParseTailRequest(const Subcommand& self,
                                    absl::Span<const std::string> args,
                                    TailRequest* request) {
  ParsedArgs parsed;
  if (std::optional<int> done =
          ParseDirArgs(self, args, kTailFlags, &parsed)) {
    return *done;
  }
  request->dir = parsed.positional[0];
  request->json = parsed.Has("json");
  request->follow = parsed.Has("follow");
  auto flag = [&](absl::string_view name) -> const std::string& {
    return parsed.flags.find(name)->second;
  };
  request->has_from = parsed.Has("from");
  if (request->has_from && !ParseOffset(flag("from"), &request->from)) {
    return UsageError(self, absl::StrCat("bad --from '", flag("from"),
                                         "': expected a decimal offset"));
  }
  request->has_from_time = parsed.Has("from-time");
  if (request->has_from_time &&
      !ParseTimeFlag(flag("from-time"), &request->from_time_us)) {
    return UsageError(
        self, absl::StrCat("bad --from-time '", flag("from-time"),
                           "': expected microseconds since the epoch or a "
                           "time like 2023-11-14T22:13:20Z"));
  }
  if (request->has_from && request->has_from_time) {
    return UsageError(self, "--from and --from-time exclude each other");
  }
  if (parsed.Has("max-wait-ms")) {
    uint64_t ms;
    if (!ParseOffset(flag("max-wait-ms"), &ms) || ms > (uint64_t{1} << 40)) {
      return UsageError(self, absl::StrCat("bad --max-wait-ms '",
                                           flag("max-wait-ms"),
                                           "': expected milliseconds"));
    }
    if (!request->follow) {
      return UsageError(self, "--max-wait-ms needs --follow");
    }
    request->max_wait = absl::Milliseconds(static_cast<int64_t>(ms));
  }
  return std::nullopt;
}

// Sets *from to the offset printing starts at: --from, the first record at
// or after --from-time, or kDefaultTailRecords before the end. Returns an
// exit code to return at once (the log cannot be read, or a start past the
// last record without --follow), or nullopt to go on.
std::optional<int> FindStart(FileSystem* fs, const TailRequest& request,
                             uint64_t* from) {
  const std::string& dir = request.dir;
  absl::StatusOr<wal::OffsetRange> range = wal::FindOffsetRange(fs, dir);
  if (!range.ok()) return InspectionFailure(range.status(), dir);
  std::string start;  // what --from or --from-time asked for, for messages
  if (request.has_from) {
    *from = request.from;
    start = absl::StrCat("offset ", *from);
  } else if (request.has_from_time) {
    absl::StatusOr<uint64_t> found =
        FindOffsetForTime(fs, dir, *range, request.from_time_us);
    if (!found.ok()) return InspectionFailure(found.status(), dir);
    *from = *found;
    start = absl::StrCat(FormatTimestamp(request.from_time_us), " (",
                         request.from_time_us, " us)");
  } else {
    *from = range->next - range->first > kDefaultTailRecords
                ? range->next - kDefaultTailRecords
                : range->first;
  }
  // A start past the last record is "not found" whichever way it was given
  // (--follow waits for it instead).
  if (!start.empty() && *from >= range->next && !request.follow) {
    PrintError(absl::StrCat(
        dir, ": no record at or after ", start, "; ",
        range->empty()          ? std::string("the log is empty")
        : request.has_from_time ? std::string("every record is older")
                                : absl::StrCat("the log holds offsets [",
                                               range->first, ", ", range->next,
                                               ")")));
    return kExitNotFound;
  }
  return std::nullopt;
}

// --follow: polls for records at and after `next` (past the last one
// printed), flushing each batch so that a pipe sees them at once. A failed
// poll is retried once: a writer's truncation may remove a file between
// listing and reading it. Runs until killed, --max-wait-ms passes without a
// new record, or stdout or a second poll in a row fails.
int Follow(FileSystem* fs, const TailRequest& request, uint64_t next) {
  absl::Time last_record = absl::Now();
  int failures = 0;
  while (true) {
    if (std::fflush(stdout) != 0 || std::ferror(stdout)) {
      return FinishOutput(kExitOk);  // reports the write error
    }
    absl::Duration wait = kFollowPollInterval;
    if (request.max_wait.has_value()) {
      const absl::Duration left = last_record + *request.max_wait - absl::Now();
      if (left <= absl::ZeroDuration()) return FinishOutput(kExitOk);
      wait = std::min(wait, left);
    }
    absl::SleepFor(wait);
    uint64_t printed = 0;
    const absl::Status s =
        PrintRecordsFrom(fs, request.dir, request.json, request.from_time_us,
                         /*skip_seen=*/true, &next, &printed);
    if (printed > 0) last_record = absl::Now();
    if (s.ok()) {
      failures = 0;
    } else if (++failures >= 2) {
      std::fflush(stdout);
      return FinishOutput(InspectionFailure(s, request.dir));
    }
  }
}

}  // namespace

int RunTail(const Subcommand& self, absl::Span<const std::string> args) {
  TailRequest request;
  if (std::optional<int> done = ParseTailRequest(self, args, &request)) {
    return *done;
  }
  if (!CheckLogDirectory(request.dir, /*create=*/false)) return kExitFailed;
  FileSystem* fs = FileSystem::Default();
  uint64_t next = 0;
  if (std::optional<int> done = FindStart(fs, request, &next)) return *done;
  uint64_t printed = 0;
  const absl::Status s =
      PrintRecordsFrom(fs, request.dir, request.json, request.from_time_us,
                       /*skip_seen=*/false, &next, &printed);
  if (!s.ok()) {
    std::fflush(stdout);
    return FinishOutput(InspectionFailure(s, request.dir));
  }
  if (!request.follow) return FinishOutput(kExitOk);
  return Follow(fs, request, next);
}

}  // namespace blockwal::tools::walctl
