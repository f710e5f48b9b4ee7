// A client's TCP connection to a `kv serve` server: sends request lines and
// reads '\n'-terminated answer lines, each step bounded by a deadline. A
// blocking-style wrapper over a non-blocking socket and poll(2); sends use
// MSG_NOSIGNAL, so a server that goes away is an error, never a SIGPIPE.
#ifndef BLOCKWAL_TOOLS_KV_CONNECTION_H_
#define BLOCKWAL_TOOLS_KV_CONNECTION_H_

#include <chrono>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace blockwal::tools::kv {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

class LineConnection {
 public:
  // Connects to `address` (HOST:PORT, see CheckAddress), trying each address
  // the host resolves to. kInvalidArgument for an address that is not
  // HOST:PORT; kUnavailable when the host does not resolve or every
  // address refuses or cannot be reached ("cannot connect: Connection
  // refused"); kDeadlineExceeded when `deadline` passes first. The
  // messages do not repeat the address.
  static absl::StatusOr<std::unique_ptr<LineConnection>> Connect(
      absl::string_view address, Deadline deadline);

  ~LineConnection();
  LineConnection(const LineConnection&) = delete;
  LineConnection& operator=(const LineConnection&) = delete;

  const std::string& address() const { return address_; }

  // Writes all of `data`. On an error (kUnavailable: the connection broke;
  // kDeadlineExceeded) not all of it was handed to the kernel, so a request
  // whose last byte is its '\n' has not reached the server whole.
  absl::Status Send(absl::string_view data, Deadline deadline);

  // The next line, without its '\n'. kUnavailable when the server closed
  // or reset the connection first ("connection closed"),
  // kDeadlineExceeded when `deadline` passes first.
  absl::StatusOr<std::string> ReadLine(Deadline deadline);

  // True when the server has closed or reset the connection and sent
  // nothing more: a kept connection that a request should not be sent on.
  // Does not wait.
  bool PeerClosed();

 private:
  LineConnection(int fd, std::string address)
      : fd_(fd), address_(std::move(address)) {}

  int fd_;
  std::string address_;
  std::string buffer_;  // bytes read past the last line returned
};

}  // namespace blockwal::tools::kv

#endif  // BLOCKWAL_TOOLS_KV_CONNECTION_H_
