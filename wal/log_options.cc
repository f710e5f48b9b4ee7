// Names of the log's option values (wal/log_options.h).
#include "blockwal/wal/log_options.h"

namespace blockwal::wal {

const char* SyncPolicyName(SyncPolicy policy) {
  switch (policy) {
    case SyncPolicy::kNone:
      return "none";
    case SyncPolicy::kEveryAppend:
      return "every-append";
    case SyncPolicy::kInterval:
      return "interval";
  }
  return "unknown";
}

const char* RecoveryModeName(RecoveryMode mode) {
  switch (mode) {
    case RecoveryMode::kTolerateCorruptedTailRecords:
      return "tolerate-corrupted-tail-records";
    case RecoveryMode::kAbsoluteConsistency:
      return "absolute-consistency";
    case RecoveryMode::kPointInTime:
      return "point-in-time";
    case RecoveryMode::kSkipAnyCorruptedRecords:
      return "skip-any-corrupted-records";
  }
  return "unknown";
}

}  // namespace blockwal::wal
