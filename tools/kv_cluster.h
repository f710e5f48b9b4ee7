// How `kv client` gets a request answered by a cluster of `kv serve`
// servers (docs/raft.md, "The client protocol"): it follows redirects to
// the leader, waits out elections, and never sends a write twice.
#ifndef BLOCKWAL_TOOLS_KV_CLUSTER_H_
#define BLOCKWAL_TOOLS_KV_CLUSTER_H_

#include <chrono>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "tools/kv_connection.h"
#include "tools/kv_protocol.h"

namespace blockwal::tools::kv {

// How long one connect attempt may take at most (within the request's
// timeout), so that a server that drops packets does not hold the client
// until its timeout while others answer.
inline constexpr std::chrono::seconds kConnectTimeout{1};
// The pause after every server of the list has failed in turn.
inline constexpr std::chrono::milliseconds kRetryPause{100};

class ClusterSession {
 public:
  // `servers`: the --servers list (HOST:PORT each, at least one);
  // `timeout`: how long one request may take.
  ClusterSession(std::vector<std::string> servers,
                 std::chrono::duration<double> timeout);

  // Sends `request` (one line, '\n' included) and returns its answer, one
  // of `expected` or ERR or INDETERMINATE. Starts on the connection kept
  // from the last request, or with the first server; a REDIRECT sends the
  // request again to the address it names (each address once per round);
  // NO_LEADER, a refused connection, or a read whose connection breaks
  // before its answer move on to the next server of the list, pausing
  // kRetryPause after a whole round, until the timeout passes, which is
  // kDeadlineExceeded "no leader answered in Ns (last: WHY)". A write
  // (`write`) is sent once at most: when its connection breaks or times
  // out after it was sent, or its answer is malformed or unexpected, the
  // result is an INDETERMINATE answer saying so. A read's malformed or
  // unexpected answer is kInternal "ADDRESS: ...".
  absl::StatusOr<Answer> Call(absl::string_view request, bool write,
                              std::initializer_list<AnswerKind> expected);

  // The next answer line on the connection the last Call was answered on
  // (the lines of a dump). kUnavailable / kDeadlineExceeded / kInternal
  // "ADDRESS: ...", after which the connection is dropped.
  absl::StatusOr<Answer> ReadMore();

  // The --timeout as the messages show it: "10s", "0.5s".
  std::string TimeoutText() const;

 private:
  // Drops the connection and moves on to the next server of the list.
  void NextServer(Deadline deadline);
  // Drops the connection after a failed request; the next one starts with
  // the server of the list last tried, not a leader a redirect named.
  void DropConnection();
  // Makes sure conn_ is open to target_; false (with *why set) if not.
  bool EnsureConnected(Deadline deadline, std::string* why);
  // Reads and parses the answer to a request that was sent.
  absl::StatusOr<Answer> ReadAnswer(bool write, Deadline deadline,
                                    std::initializer_list<AnswerKind> expected,
                                    bool* retry, std::string* why);

  const std::vector<std::string> servers_;
  const std::chrono::duration<double> timeout_;
  size_t index_ = 0;                     // the server of the list last tried
  size_t failures_ = 0;                  // in a row, in this request
  std::string target_;                   // where the next request goes
  std::vector<std::string> redirected_;  // followed in this round
  std::unique_ptr<LineConnection> conn_;
};

}  // namespace blockwal::tools::kv

#endif  // BLOCKWAL_TOOLS_KV_CLUSTER_H_
