// What the raft tests share: a state machine that records the commands it
// applies (padded as raft/entry_codec.h says), and the commands they apply.
#ifndef BLOCKWAL_TESTS_RAFT_TEST_FSM_H_
#define BLOCKWAL_TESTS_RAFT_TEST_FSM_H_

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "blockwal/raft/entry_codec.h"
#include "blockwal/raft/raft_c.h"
#include "gtest/gtest.h"

namespace blockwal::testing {

// A state machine that records the commands it applies, in order; its
// snapshot is the list, newline-separated.
struct RecordingFsm {
  struct raft_fsm fsm = {};
  std::vector<std::string> applied;
  int restores = 0;

  RecordingFsm() {
    fsm.version = 1;
    fsm.data = this;
    fsm.apply = &Apply;
    fsm.snapshot = &Snapshot;
    fsm.restore = &Restore;
  }
  static int Apply(struct raft_fsm* f, const struct raft_buffer* buf,
                   void** result) {
    absl::StatusOr<absl::string_view> cmd = raft::UnpadCommand(
        absl::string_view(static_cast<const char*>(buf->base), buf->len),
        "applied entry");
    EXPECT_TRUE(cmd.ok()) << cmd.status();
    if (!cmd.ok()) return RAFT_MALFORMED;
    static_cast<RecordingFsm*>(f->data)->applied.emplace_back(*cmd);
    *result = nullptr;
    return 0;
  }
  static int Snapshot(struct raft_fsm* f, struct raft_buffer* bufs[],
                      unsigned* n) {
    const std::string data =
        absl::StrJoin(static_cast<RecordingFsm*>(f->data)->applied, "\n");
    *bufs = static_cast<struct raft_buffer*>(raft_malloc(sizeof **bufs));
    (*bufs)[0].len = data.size();
    (*bufs)[0].base = raft_malloc(data.size() + 1);
    std::memcpy((*bufs)[0].base, data.data(), data.size());
    *n = 1;
    return 0;
  }
  static int Restore(struct raft_fsm* f, struct raft_buffer* buf) {
    const std::string data(static_cast<const char*>(buf->base), buf->len);
    raft_free(buf->base);  // the FSM owns it now
    RecordingFsm* self = static_cast<RecordingFsm*>(f->data);
    ++self->restores;
    self->applied.clear();
    if (!data.empty()) self->applied = absl::StrSplit(data, '\n');
    return 0;
  }
};

// "cmd-<from>" .. "cmd-<to - 1>".
inline std::vector<std::string> Commands(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i < to; ++i) out.push_back(absl::StrCat("cmd-", i));
  return out;
}

// Submits each command to `r` through raft_apply, padded; each callback
// expects status 0 and counts into *done. The requests are kept in *reqs,
// which must outlive the callbacks. A refused raft_apply fails the test and
// frees the buffer (raft does not take it then).
inline void SubmitCommands(
    struct raft* r, const std::vector<std::string>& commands, int* done,
    std::vector<std::unique_ptr<struct raft_apply>>* reqs) {
  for (const std::string& c : commands) {
    struct raft_buffer buf;
    buf.len = raft::PaddedCommandSize(c.size());
    buf.base = raft_malloc(buf.len);
    raft::PadCommandInto(c, static_cast<char*>(buf.base));
    reqs->push_back(std::make_unique<struct raft_apply>());
    reqs->back()->data = done;
    const int rv = raft_apply(r, reqs->back().get(), &buf, 1,
                              [](struct raft_apply* req, int status, void*) {
                                EXPECT_EQ(status, 0) << raft_strerror(status);
                                ++*static_cast<int*>(req->data);
                              });
    if (rv != 0) {
      raft_free(buf.base);
      reqs->pop_back();
      ADD_FAILURE() << "raft_apply: " << raft_strerror(rv) << ": "
                    << raft_errmsg(r);
      return;
    }
  }
}

}  // namespace blockwal::testing

#endif  // BLOCKWAL_TESTS_RAFT_TEST_FSM_H_
