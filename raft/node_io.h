// A whole raft_io for one server: blockwal's disk half (raft/disk_io.h) and
// libraft's own TCP networking (raft/uv_network.h) in one struct raft_io,
// the one to hand to raft_init.
//
//   auto node = NodeIo::Open(loop, "/data/node1").value();
//   raft_init(&raft, node->io(), &fsm, id, "127.0.0.1:9001");
//   ... raft_close(&raft, cb); once cb has run, destroy node ...
//
// Directory: DIR/ holds the disk half's files (docs/raft.md) and DIR/net/,
// the stock io's scratch directory (it never sees the disk half's files).
// io->impl is the DiskIo; the network methods find the NodeIo through it.
// Close closes the network half first (no more ticks, messages or sends),
// then the disk half (pending requests finish or are cancelled), then calls
// raft back. Everything runs on the loop's thread.
#ifndef BLOCKWAL_RAFT_NODE_IO_H_
#define BLOCKWAL_RAFT_NODE_IO_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "blockwal/raft/disk_io.h"
#include "blockwal/raft/raft_c.h"
#include "blockwal/raft/uv_network.h"

namespace blockwal::raft {

class NodeIo {
 public:
  static absl::StatusOr<std::unique_ptr<NodeIo>> Open(
      uv_loop_t* loop, const std::string& dir,
      const LogStoreOptions& options = {});
  NodeIo(const NodeIo&) = delete;
  NodeIo& operator=(const NodeIo&) = delete;

  struct raft_io* io() {
    return &io_;
  }
  DiskIo* disk() { return disk_.get(); }
  UvNetwork* network() { return net_.get(); }

 private:
  NodeIo() = default;
  static NodeIo* Self(struct raft_io* io);
  static int Init(struct raft_io* io, raft_id id, const char* address);
  static int Start(struct raft_io* io, unsigned msecs, raft_io_tick_cb tick,
                   raft_io_recv_cb recv);
  static int Send(struct raft_io* io, struct raft_io_send* req,
                  const struct raft_message* message, raft_io_send_cb cb);
  static raft_time Time(struct raft_io* io);
  static int Random(struct raft_io* io, int min, int max);
  static void Close(struct raft_io* io, raft_io_close_cb cb);

  struct raft_io io_ = {};
  std::unique_ptr<DiskIo> disk_;
  std::unique_ptr<UvNetwork> net_;
};

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_NODE_IO_H_
