// Runs a program and captures its exit status, stdout and stderr, for the
// tests that run the built tools (walctl_test, walctl_log_test).
#ifndef BLOCKWAL_TESTS_RUN_COMMAND_H_
#define BLOCKWAL_TESTS_RUN_COMMAND_H_

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

extern char** environ;

namespace blockwal::testing {

struct CommandResult {
  // The exit status, or 128 + the signal number if it was killed, or -1 if
  // it could not be run.
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv[0] (a path) in `cwd` when not empty, with `stdin_data` as its
// standard input (an in-memory file; /dev/null when empty), and captures
// stdout and stderr separately. Both pipes are drained together so a child
// that fills one while we wait on the other cannot deadlock.
inline CommandResult RunCommand(const std::vector<std::string>& argv,
                                const std::string& cwd = "",
                                const std::string& stdin_data = "") {
  CommandResult result;
  int stdin_fd = -1;
  if (!stdin_data.empty()) {
    stdin_fd = memfd_create("stdin", MFD_CLOEXEC);
    if (stdin_fd < 0 ||
        write(stdin_fd, stdin_data.data(), stdin_data.size()) !=
            static_cast<ssize_t>(stdin_data.size()) ||
        lseek(stdin_fd, 0, SEEK_SET) != 0) {
      ADD_FAILURE() << "stdin memfd: " << std::strerror(errno);
      if (stdin_fd >= 0) close(stdin_fd);
      return result;
    }
  }
  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    ADD_FAILURE() << "pipe2: " << std::strerror(errno);
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdin_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdin_fd, 0);
  } else {
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  if (!cwd.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  const int spawn_error = posix_spawn(&pid, argv[0].c_str(), &actions, nullptr,
                                      args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (stdin_fd >= 0) close(stdin_fd);
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (spawn_error != 0) {
    ADD_FAILURE() << "posix_spawn " << argv[0] << ": "
                  << std::strerror(spawn_error);
    close(out_pipe[0]);
    close(err_pipe[0]);
    return result;
  }

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      ADD_FAILURE() << "poll: " << std::strerror(errno);
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;  // poll ignores negative descriptors
        --open_fds;
      }
    }
  }
  for (pollfd& p : fds) {
    if (p.fd >= 0) close(p.fd);
  }

  int wait_status;
  while (waitpid(pid, &wait_status, 0) < 0) {
    if (errno != EINTR) {
      ADD_FAILURE() << "waitpid: " << std::strerror(errno);
      return result;
    }
  }
  if (WIFEXITED(wait_status)) {
    result.exit_code = WEXITSTATUS(wait_status);
  } else if (WIFSIGNALED(wait_status)) {
    result.exit_code = 128 + WTERMSIG(wait_status);
  }
  return result;
}

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_RUN_COMMAND_H_
