// GoogleTest helpers for absl::Status / absl::StatusOr (Abseil 20220623 ships
// none):
//   EXPECT_OK(expr); ASSERT_OK(expr);
//   ASSERT_OK_AND_ASSIGN(auto x, StatusOrExpr);
//   EXPECT_THAT(status_or_statusor, StatusIs(absl::StatusCode::kDataLoss));
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("000.store")));
//   EXPECT_THAT(statusor, IsOkAndHolds(ElementsAre(...)));
#ifndef BLOCKWAL_TESTS_STATUS_MATCHERS_H_
#define BLOCKWAL_TESTS_STATUS_MATCHERS_H_

#include <ostream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace blockwal::testing {

inline const absl::Status& GetStatus(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& GetStatus(const absl::StatusOr<T>& s) {
  return s.status();
}

MATCHER_P2(StatusIsImpl, code, message_matcher,
           std::string(negation ? "isn't" : "is") + " a status with code " +
               absl::StatusCodeToString(code)) {
  const absl::Status& s = ::blockwal::testing::GetStatus(arg);
  *result_listener << "whose status is " << s;
  return s.code() == code &&
         ::testing::Matches(message_matcher)(std::string(s.message()));
}

// Matches a Status or StatusOr whose code is `code` (and whose message
// matches message_matcher, when given).
inline auto StatusIs(absl::StatusCode code) {
  return StatusIsImpl(code, ::testing::_);
}
template <typename M>
auto StatusIs(absl::StatusCode code, M message_matcher) {
  return StatusIsImpl(code, ::testing::MatcherCast<std::string>(message_matcher));
}

MATCHER_P(IsOkAndHoldsImpl, value_matcher,
          std::string(negation ? "isn't" : "is") +
              " an OK StatusOr whose value matches the given matcher") {
  if (!arg.ok()) {
    *result_listener << "whose status is " << arg.status();
    return false;
  }
  return ::testing::ExplainMatchResult(value_matcher, *arg, result_listener);
}

// Matches an OK StatusOr whose value matches value_matcher.
template <typename M>
auto IsOkAndHolds(M value_matcher) {
  return IsOkAndHoldsImpl(value_matcher);
}

}  // namespace blockwal::testing

#define EXPECT_OK(expr) EXPECT_EQ(::blockwal::testing::GetStatus(expr), ::absl::OkStatus())
#define ASSERT_OK(expr) ASSERT_EQ(::blockwal::testing::GetStatus(expr), ::absl::OkStatus())

#define BW_TEST_CONCAT_INNER_(a, b) a##b
#define BW_TEST_CONCAT_(a, b) BW_TEST_CONCAT_INNER_(a, b)
#define ASSERT_OK_AND_ASSIGN(lhs, expr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(BW_TEST_CONCAT_(bw_test_statusor_, __LINE__), lhs, expr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                               \
  ASSERT_OK(statusor);                                  \
  lhs = std::move(statusor).value()

#endif  // BLOCKWAL_TESTS_STATUS_MATCHERS_H_
