// A TCP port on 127.0.0.1 that nothing listens on right now: bound to port 0
// and released, for tests that start servers (another process may still take
// it in between; the tests then fail to bind and say so).
#ifndef BLOCKWAL_TESTS_FREE_PORT_H_
#define BLOCKWAL_TESTS_FREE_PORT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace blockwal::testing {

inline int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_FREE_PORT_H_
