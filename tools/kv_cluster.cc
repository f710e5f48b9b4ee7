// Leader following for `kv client` (kv_cluster.h).
#include "tools/kv_cluster.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace blockwal::tools::kv {
namespace {

Answer IndeterminateResult(std::string message) {
  Answer answer;
  answer.kind = AnswerKind::kIndeterminate;
  answer.message = std::move(message);
  return answer;
}

bool Expected(const Answer& answer,
              std::initializer_list<AnswerKind> expected) {
  return answer.kind == AnswerKind::kErr ||
         answer.kind == AnswerKind::kIndeterminate ||
         std::find(expected.begin(), expected.end(), answer.kind) !=
             expected.end();
}

}  // namespace

ClusterSession::ClusterSession(std::vector<std::string> servers,
                               std::chrono::duration<double> timeout)
    : servers_(std::move(servers)), timeout_(timeout), target_(servers_[0]) {}

std::string ClusterSession::TimeoutText() const {
  return absl::StrFormat("%gs", timeout_.count());
}

void ClusterSession::NextServer(Deadline deadline) {
  conn_.reset();
  index_ = (index_ + 1) % servers_.size();
  target_ = servers_[index_];
  if (++failures_ % servers_.size() != 0) return;
  redirected_.clear();
  const Clock::duration left = deadline - Clock::now();
  if (left > Clock::duration::zero()) {
    std::this_thread::sleep_for(std::min<Clock::duration>(kRetryPause, left));
  }
}

void ClusterSession::DropConnection() {
  conn_.reset();
  target_ = servers_[index_];
}

bool ClusterSession::EnsureConnected(Deadline deadline, std::string* why) {
  if (conn_ != nullptr && conn_->PeerClosed()) conn_.reset();
  if (conn_ != nullptr) return true;
  absl::StatusOr<std::unique_ptr<LineConnection>> c = LineConnection::Connect(
      target_, std::min(deadline, Clock::now() + kConnectTimeout));
  if (!c.ok()) {
    *why = absl::StrCat(target_, ": ", c.status().message());
    return false;
  }
  conn_ = *std::move(c);
  return true;
}

absl::StatusOr<Answer> ClusterSession::Call(
    absl::string_view request, bool write,
    std::initializer_list<AnswerKind> expected) {
  const Deadline deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout_);
  failures_ = 0;
  redirected_.clear();
  std::string why = "no server answered";
  while (Clock::now() < deadline) {
    if (!EnsureConnected(deadline, &why)) {
      NextServer(deadline);
      continue;
    }
    if (absl::Status s = conn_->Send(request, deadline); !s.ok()) {
      // Not all of the line reached the kernel: the server cannot have
      // acted on it, so even a write may go elsewhere.
      why = absl::StrCat(conn_->address(), ": ", s.message());
      NextServer(deadline);
      continue;
    }
    bool retry = false;
    absl::StatusOr<Answer> answer =
        ReadAnswer(write, deadline, expected, &retry, &why);
    if (!retry) return answer;
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "no leader answered in ", TimeoutText(), " (last: ", why, ")"));
}

absl::StatusOr<Answer> ClusterSession::ReadAnswer(
    bool write, Deadline deadline, std::initializer_list<AnswerKind> expected,
    bool* retry, std::string* why) {
  const std::string address = conn_->address();
  absl::StatusOr<std::string> line = conn_->ReadLine(deadline);
  if (!line.ok()) {
    const std::string broke =
        absl::IsDeadlineExceeded(line.status())
            ? absl::StrCat("no answer within the ", TimeoutText(), " timeout")
            : std::string(line.status().message());
    if (write) {
      // The next request starts from the list again: this server (perhaps
      // a leader it was redirected to) may be down or paused.
      DropConnection();
      return IndeterminateResult(
          absl::StrCat(address, ": ", broke, " after the request was sent"));
    }
    *why = absl::StrCat(address, ": ", broke);
    NextServer(deadline);
    *retry = true;
    return line.status();
  }
  absl::StatusOr<Answer> answer = ParseAnswer(*line);
  if (answer.ok() && answer->kind == AnswerKind::kRedirect) {
    conn_.reset();
    *retry = true;
    if (std::find(redirected_.begin(), redirected_.end(), answer->address) !=
        redirected_.end()) {
      *why = absl::StrCat(address, ": redirected again to ", answer->address);
      NextServer(deadline);
    } else {
      redirected_.push_back(answer->address);
      target_ = answer->address;
    }
    return answer;
  }
  if (answer.ok() && answer->kind == AnswerKind::kNoLeader) {
    *why = absl::StrCat(address, ": no leader known");
    NextServer(deadline);
    *retry = true;
    return answer;
  }
  if (answer.ok() && Expected(*answer, expected)) return answer;
  const std::string problem =
      answer.ok() ? absl::StrCat("unexpected answer '", *line, "'")
                  : std::string(answer.status().message());
  DropConnection();
  if (write) return IndeterminateResult(absl::StrCat(address, ": ", problem));
  return absl::InternalError(absl::StrCat(address, ": ", problem));
}

absl::StatusOr<Answer> ClusterSession::ReadMore() {
  if (conn_ == nullptr) {
    return absl::FailedPreconditionError("no connection to read from");
  }
  const std::string address = conn_->address();
  absl::StatusOr<std::string> line = conn_->ReadLine(
      Clock::now() + std::chrono::duration_cast<Clock::duration>(timeout_));
  absl::StatusOr<Answer> answer =
      line.ok() ? ParseAnswer(*line) : absl::StatusOr<Answer>(line.status());
  if (!answer.ok()) {
    conn_.reset();
    return absl::Status(answer.status().code(),
                        absl::StrCat(address, ": ", answer.status().message()));
  }
  return answer;
}

}  // namespace blockwal::tools::kv
