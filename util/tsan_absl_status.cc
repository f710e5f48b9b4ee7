// ThreadSanitizer builds only (BLOCKWAL_SANITIZE=thread).
//
// An absl::Status that is not OK points at a reference-counted StatusRep,
// and blockwal hands copies of one error to many threads (a sticky write
// error goes to every writer). Status::Ref is inline, so TSan sees its
// increment; but the decrement, with the acquire/release that orders every
// user of the rep before its deletion, is in Status::UnrefNonInlined in
// Debian's uninstrumented libabsl_status.so. TSan then reports the delete as
// racing with another thread's earlier increment (seen here as a report in
// DbFullDiskTest.ConcurrentWritersAndCheckpointsGoThroughAFullDisk).
//
// This file defines UnrefNonInlined in the executable, where its definition
// takes precedence over the library's (as tsan_absl_mutex.cc does for
// absl::Mutex). It does what Abseil 20220623 does (absl/status/status.cc),
// compiled with TSan, so the ordering is visible.
#ifndef __SANITIZE_THREAD__
#error "util/tsan_absl_status.cc is for ThreadSanitizer builds only"
#endif

#include <atomic>
#include <cstdint>

#include "absl/status/status.h"

namespace absl {
ABSL_NAMESPACE_BEGIN

void Status::UnrefNonInlined(uintptr_t rep) {
  status_internal::StatusRep* r = RepToPointer(rep);
  // Fast path: when this thread holds the only reference, nobody else can
  // touch the rep (the acquire makes the other threads' earlier unrefs
  // happen before the delete).
  if (r->ref.load(std::memory_order_acquire) == 1 ||
      r->ref.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) {
    delete r;
  }
}

ABSL_NAMESPACE_END
}  // namespace absl
