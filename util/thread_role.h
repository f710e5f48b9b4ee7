// A role that one thread at a time plays by a protocol of the program's own
// (e.g. "the writer at the front of the queue leads the group commit"),
// expressed as a capability for clang's thread-safety analysis
// (-Wthread-safety; see BLOCKWAL_THREAD_SAFETY_ANALYSIS in CMakeLists.txt).
//
// State that only the role's holder touches, with or without any mutex, is
// ABSL_GUARDED_BY(role); functions only it may call are
// ABSL_EXCLUSIVE_LOCKS_REQUIRED(role). The code marks where a thread takes the
// role and where it hands it on (ThreadRoleScope), so the compiler checks that
// such state is touched only in between.
//
// It is not a lock: taking the role never blocks. The protocol must ensure no
// two threads hold it at once; debug builds check that it does.
#ifndef BLOCKWAL_UTIL_THREAD_ROLE_H_
#define BLOCKWAL_UTIL_THREAD_ROLE_H_

#include <atomic>
#include <cassert>

#include "absl/base/thread_annotations.h"

namespace blockwal {

class ABSL_LOCKABLE ThreadRole {
 public:
  ThreadRole() = default;
  ThreadRole(const ThreadRole&) = delete;
  ThreadRole& operator=(const ThreadRole&) = delete;

  // The calling thread takes the role; nobody may hold it.
  void Acquire() ABSL_EXCLUSIVE_LOCK_FUNCTION() {
#ifndef NDEBUG
    const bool was_held = held_.exchange(true, std::memory_order_relaxed);
    assert(!was_held && "two threads hold the same ThreadRole");
#endif
  }
  // The calling thread gives the role up.
  void Release() ABSL_UNLOCK_FUNCTION() {
#ifndef NDEBUG
    const bool was_held = held_.exchange(false, std::memory_order_relaxed);
    assert(was_held && "releasing a ThreadRole nobody holds");
#endif
  }
  // For code the analysis cannot follow into (a callback run by the holder):
  // states that the caller holds the role, checked in debug builds.
  void AssertHeld() const ABSL_ASSERT_EXCLUSIVE_LOCK() {
    assert(held_.load(std::memory_order_relaxed) &&
           "the ThreadRole is not held");
  }

 private:
  // Debug builds only: whether some thread holds the role. The protocol's own
  // synchronization (e.g. a mutex the handover happens under) orders the
  // accesses, so relaxed suffices.
  std::atomic<bool> held_{false};
};

// Holds a ThreadRole for its scope.
class ABSL_SCOPED_LOCKABLE ThreadRoleScope {
 public:
  explicit ThreadRoleScope(ThreadRole* role) ABSL_EXCLUSIVE_LOCK_FUNCTION(role)
      : role_(role) {
    role_->Acquire();
  }
  ~ThreadRoleScope() ABSL_UNLOCK_FUNCTION() { role_->Release(); }
  ThreadRoleScope(const ThreadRoleScope&) = delete;
  ThreadRoleScope& operator=(const ThreadRoleScope&) = delete;

 private:
  ThreadRole* const role_;
};

}  // namespace blockwal

#endif  // BLOCKWAL_UTIL_THREAD_ROLE_H_
