// A scripted stand-in for `kv serve` in the test process, for the tests
// that drive the real `kv client`: a thread listening on 127.0.0.1 (a port
// the kernel picks) that serves any number of connections at once, answers
// every line it reads as its script says, and records each line and connection.
#ifndef BLOCKWAL_TESTS_KV_FAKE_SERVER_H_
#define BLOCKWAL_TESTS_KV_FAKE_SERVER_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace blockwal::testing {

class FakeKvServer {
 public:
  // What the script answers to close the connection without an answer.
  static constexpr char kClose[] = "<close>";

  // `script(line, n)` gets each line read (without '\n') and how many lines
  // came before it (on every connection), and returns the bytes to send
  // back: answer lines, "" for no answer at all, or kClose.
  using Script = std::function<std::string(const std::string& line, int n)>;

  explicit FakeKvServer(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(
        ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    EXPECT_EQ(
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    EXPECT_EQ(::listen(listen_fd_, 16), 0);
    address_ = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
    thread_ = std::thread([this] { Serve(); });
  }

  ~FakeKvServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
  }

  const std::string& address() const { return address_; }

  // Every line received, in order.
  std::vector<std::string> lines() const {
    std::lock_guard<std::mutex> lock(mu_);
    return lines_;
  }

  // How many connections were accepted.
  int connections() const {
    std::lock_guard<std::mutex> lock(mu_);
    return connections_;
  }

 private:
  struct Connection {
    int fd;
    std::string buffer;  // bytes read past the last whole line
  };

  // Polls the listening socket and every connection, 50 ms at a time so
  // that stop_ is seen.
  void Serve() {
    std::vector<Connection> conns;
    while (!stop_) {
      std::vector<pollfd> fds = {{listen_fd_, POLLIN, 0}};
      for (const Connection& c : conns) fds.push_back({c.fd, POLLIN, 0});
      if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
      for (size_t i = conns.size(); i > 0; --i) {
        if (fds[i].revents != 0 && !Pump(conns[i - 1])) {
          ::close(conns[i - 1].fd);
          conns.erase(conns.begin() + static_cast<ptrdiff_t>(i - 1));
        }
      }
      if (fds[0].revents == 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      std::lock_guard<std::mutex> lock(mu_);
      ++connections_;
      conns.push_back({fd, ""});
    }
    for (const Connection& c : conns) ::close(c.fd);
  }

  // Reads what `c` has and answers its whole lines; false when it is to
  // be closed.
  bool Pump(Connection& c) {
    char chunk[4096];
    const ssize_t n = ::recv(c.fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    c.buffer.append(chunk, static_cast<size_t>(n));
    for (size_t newline;
         (newline = c.buffer.find('\n')) != std::string::npos;) {
      const std::string line = c.buffer.substr(0, newline);
      c.buffer.erase(0, newline + 1);
      std::string reply;
      {
        std::lock_guard<std::mutex> lock(mu_);
        reply = script_(line, static_cast<int>(lines_.size()));
        lines_.push_back(line);
      }
      if (reply == kClose) return false;
      if (!reply.empty() &&
          ::send(c.fd, reply.data(), reply.size(), MSG_NOSIGNAL) !=
              static_cast<ssize_t>(reply.size())) {
        return false;
      }
    }
    return true;
  }

  const Script script_;
  int listen_fd_ = -1;
  std::string address_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
  int connections_ = 0;
  std::thread thread_;
};

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_KV_FAKE_SERVER_H_
