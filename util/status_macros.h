// Small helpers for absl::Status plumbing. Abseil 20220623 ships no
// ABSL_RETURN_IF_ERROR / ASSIGN_OR_RETURN, so blockwal keeps its own two.
#ifndef BLOCKWAL_UTIL_STATUS_MACROS_H_
#define BLOCKWAL_UTIL_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status); returns it from the enclosing function
// when it is not OK.
#define BW_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    ::absl::Status bw_status_ = (expr);           \
    if (!bw_status_.ok()) return bw_status_;      \
  } while (0)

#define BW_STATUS_CONCAT_INNER_(a, b) a##b
#define BW_STATUS_CONCAT_(a, b) BW_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::StatusOr<T>); on error returns its status from the
// enclosing function, otherwise moves the value into `lhs`, which may be a
// declaration (`auto x`) or an existing lvalue.
#define BW_ASSIGN_OR_RETURN(lhs, expr) \
  BW_ASSIGN_OR_RETURN_IMPL_(BW_STATUS_CONCAT_(bw_statusor_, __LINE__), lhs, expr)

#define BW_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                              \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // BLOCKWAL_UTIL_STATUS_MACROS_H_
