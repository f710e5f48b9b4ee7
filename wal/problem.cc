// Names of the problem kinds (wal/problem.h).
#include "blockwal/wal/problem.h"

namespace blockwal::wal {

absl::string_view ProblemKindName(ProblemKind kind) {
  switch (kind) {
    case ProblemKind::kChecksumMismatch: return "ChecksumMismatch";
    case ProblemKind::kBadRecordLength: return "BadRecordLength";
    case ProblemKind::kMissingStart: return "MissingStart";
    case ProblemKind::kPartialRecord: return "PartialRecord";
    case ProblemKind::kErrorInRecord: return "ErrorInRecord";
    case ProblemKind::kUnknownRecordType: return "UnknownRecordType";
    case ProblemKind::kReadError: return "ReadError";
    case ProblemKind::kBadEnvelope: return "BadEnvelope";
    case ProblemKind::kWrongOffset: return "WrongOffset";
    case ProblemKind::kMissingRecords: return "MissingRecords";
    case ProblemKind::kTimestampBackwards: return "TimestampBackwards";
    case ProblemKind::kTornTail: return "TornTail";
    case ProblemKind::kIncompleteBatch: return "IncompleteBatch";
    case ProblemKind::kDamagedBeforeCut: return "DamagedBeforeCut";
    case ProblemKind::kIndexMissing: return "IndexMissing";
    case ProblemKind::kIndexPartialEntry: return "IndexPartialEntry";
    case ProblemKind::kIndexMismatch: return "IndexMismatch";
    case ProblemKind::kIndexBehind: return "IndexBehind";
    case ProblemKind::kIndexNotSealed: return "IndexNotSealed";
    case ProblemKind::kOrphanIndex: return "OrphanIndex";
    case ProblemKind::kOffsetGap: return "OffsetGap";
    case ProblemKind::kOffsetOverlap: return "OffsetOverlap";
    case ProblemKind::kInterruptedTruncation: return "InterruptedTruncation";
    case ProblemKind::kBadTruncationFile: return "BadTruncationFile";
  }
  return "Unknown";
}

}  // namespace blockwal::wal
