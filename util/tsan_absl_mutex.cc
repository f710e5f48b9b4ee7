// ThreadSanitizer builds only (BLOCKWAL_SANITIZE=thread).
//
// Debian's Abseil is not built with TSan, so TSan cannot see absl::Mutex
// acquire and release memory (its atomics live in the uninstrumented
// libabsl_synchronization.so) and would report every access guarded by one as
// a race. This file interposes the Mutex and CondVar entry points: each calls
// the library's own function (found with dlsym(RTLD_NEXT)) and tells TSan
// about the happens-before edge with __tsan_acquire / __tsan_release.
// Definitions in the executable take precedence over the shared library's.
#ifndef __SANITIZE_THREAD__
#error "util/tsan_absl_mutex.cc is for ThreadSanitizer builds only"
#endif

#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

// absl::Mutex's deadlock detector keeps its lock graph in the
// uninstrumented library, under a lock TSan cannot see, so TSan reports its
// own bookkeeping (GraphCycles::InsertEdge) as racing. TSan finds lock-order
// inversions itself (second_deadlock_stack in scripts/test.sh): the
// detector is turned off in TSan builds, before main.
static const bool kDeadlockDetectionOff = [] {
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  return true;
}();

namespace {

#define BW_STRINGIFY_INNER(x) #x
#define BW_STRINGIFY(x) BW_STRINGIFY_INNER(x)

// Mangles absl::<inline namespace>::<cls>::<method_and_args> the way the
// Itanium ABI does, e.g. ("Mutex", "4LockEv") -> _ZN4absl7debian35Mutex4LockEv.
std::string Mangle(const char* cls, const char* method_and_args) {
  const std::string ns = BW_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  return "_ZN4absl" + std::to_string(ns.size()) + ns +
         std::to_string(std::strlen(cls)) + cls + method_and_args;
}

template <typename F>
F Real(const char* cls, const char* method_and_args) {
  const std::string name = Mangle(cls, method_and_args);
  void* p = dlsym(RTLD_NEXT, name.c_str());
  if (p == nullptr) {
    std::fprintf(stderr, "tsan_absl_mutex: %s not found\n", name.c_str());
    std::abort();
  }
  return reinterpret_cast<F>(p);
}

// absl evaluates a waiter's Condition inside the library: in the thread
// that unlocks (after our __tsan_release) or in the waiter before Await
// returns (before our __tsan_acquire). Either way the mutex is held, so the
// evaluation is wrapped in an acquire/release pair of its own.
struct AnnotatedCondition {
  const absl::Condition* cond;
  absl::Mutex* mu;
};

bool EvalAnnotated(AnnotatedCondition* c) {
  __tsan_acquire(c->mu);
  const bool result = c->cond->Eval();
  __tsan_release(c->mu);
  return result;
}

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static auto real = Real<void (*)(Mutex*)>("Mutex", "4LockEv");
  real(this);
  __tsan_acquire(this);
}

void Mutex::ReaderLock() {
  static auto real = Real<void (*)(Mutex*)>("Mutex", "10ReaderLockEv");
  real(this);
  __tsan_acquire(this);
}

bool Mutex::TryLock() {
  static auto real = Real<bool (*)(Mutex*)>("Mutex", "7TryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static auto real = Real<bool (*)(Mutex*)>("Mutex", "13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) __tsan_acquire(this);
  return locked;
}

void Mutex::Unlock() {
  static auto real = Real<void (*)(Mutex*)>("Mutex", "6UnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::ReaderUnlock() {
  static auto real = Real<void (*)(Mutex*)>("Mutex", "12ReaderUnlockEv");
  __tsan_release(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      "Mutex", "8LockWhenERKNS0_9ConditionE");
  AnnotatedCondition wrapped{&cond, this};
  real(this, Condition(&EvalAnnotated, &wrapped));
  __tsan_acquire(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      "Mutex", "14ReaderLockWhenERKNS0_9ConditionE");
  AnnotatedCondition wrapped{&cond, this};
  real(this, Condition(&EvalAnnotated, &wrapped));
  __tsan_acquire(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      "Mutex", "19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AnnotatedCondition wrapped{&cond, this};
  const bool met = real(this, Condition(&EvalAnnotated, &wrapped), timeout);
  __tsan_acquire(this);  // held on return either way
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      "Mutex", "20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AnnotatedCondition wrapped{&cond, this};
  const bool met = real(this, Condition(&EvalAnnotated, &wrapped), deadline);
  __tsan_acquire(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static auto real = Real<void (*)(Mutex*, const Condition&)>(
      "Mutex", "5AwaitERKNS0_9ConditionE");
  AnnotatedCondition wrapped{&cond, this};
  __tsan_release(this);
  real(this, Condition(&EvalAnnotated, &wrapped));
  __tsan_acquire(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Duration)>(
      "Mutex", "16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  AnnotatedCondition wrapped{&cond, this};
  __tsan_release(this);
  const bool met = real(this, Condition(&EvalAnnotated, &wrapped), timeout);
  __tsan_acquire(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  static auto real = Real<bool (*)(Mutex*, const Condition&, Time)>(
      "Mutex", "17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  AnnotatedCondition wrapped{&cond, this};
  __tsan_release(this);
  const bool met = real(this, Condition(&EvalAnnotated, &wrapped), deadline);
  __tsan_acquire(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static auto real = Real<void (*)(CondVar*, Mutex*)>("CondVar", "4WaitEPNS0_5MutexE");
  __tsan_release(mu);
  real(this, mu);
  __tsan_acquire(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Duration)>(
      "CondVar", "15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, timeout);
  __tsan_acquire(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  static auto real = Real<bool (*)(CondVar*, Mutex*, Time)>(
      "CondVar", "16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  __tsan_release(mu);
  const bool timed_out = real(this, mu, deadline);
  __tsan_acquire(mu);
  return timed_out;
}

ABSL_NAMESPACE_END
}  // namespace absl
