#include "blockwal/util/status_macros.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace blockwal {
namespace {

using ::blockwal::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

absl::Status ReturnIfError(absl::Status in, int* reached) {
  BW_RETURN_IF_ERROR(in);
  ++*reached;
  return absl::OkStatus();
}

TEST(StatusMacrosTest, ReturnIfErrorPassesErrorsThrough) {
  int reached = 0;
  EXPECT_THAT(ReturnIfError(absl::DataLossError("bad crc"), &reached),
              StatusIs(absl::StatusCode::kDataLoss, "bad crc"));
  EXPECT_EQ(reached, 0);
  EXPECT_OK(ReturnIfError(absl::OkStatus(), &reached));
  EXPECT_EQ(reached, 1);
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool ok, int v) {
  if (!ok) return absl::NotFoundError("no int");
  return std::make_unique<int>(v);
}

absl::StatusOr<int> AddTwo(bool first_ok, bool second_ok) {
  // Declarations and move-only values work.
  BW_ASSIGN_OR_RETURN(std::unique_ptr<int> a, MakeInt(first_ok, 1));
  int b = 0;
  BW_ASSIGN_OR_RETURN(auto p, MakeInt(second_ok, 2));
  b = *p;
  return *a + b;
}

TEST(StatusMacrosTest, AssignOrReturnAssignsOrReturns) {
  EXPECT_THAT(AddTwo(true, true), ::testing::Eq(absl::StatusOr<int>(3)));
  EXPECT_THAT(AddTwo(false, true), StatusIs(absl::StatusCode::kNotFound, "no int"));
  EXPECT_THAT(AddTwo(true, false), StatusIs(absl::StatusCode::kNotFound));
}

TEST(StatusMatchersTest, StatusIsChecksCodeAndMessage) {
  const absl::Status s = absl::DataLossError("000.store: position 42");
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss));
  EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss, HasSubstr("position 42")));
  EXPECT_THAT(s, Not(StatusIs(absl::StatusCode::kOutOfRange)));
  EXPECT_THAT(s, Not(StatusIs(absl::StatusCode::kDataLoss, HasSubstr("43"))));
  const absl::StatusOr<int> v = absl::OutOfRangeError("past end");
  EXPECT_THAT(v, StatusIs(absl::StatusCode::kOutOfRange, "past end"));
}

TEST(StatusMatchersTest, AssertOkAndAssignUnwraps) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<int> p, MakeInt(true, 7));
  EXPECT_EQ(*p, 7);
  ASSERT_OK_AND_ASSIGN(auto q, MakeInt(true, 8));
  EXPECT_EQ(*q, 8);
}

}  // namespace
}  // namespace blockwal
