// NodeIo (raft/node_io.h): the disk half and the network half in one
// raft_io.
#include "blockwal/raft/node_io.h"

#include <cstdio>
#include <utility>

#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::raft {

absl::StatusOr<std::unique_ptr<NodeIo>> NodeIo::Open(
    uv_loop_t* loop, const std::string& dir, const LogStoreOptions& options) {
  std::unique_ptr<NodeIo> node(new NodeIo());
  BW_ASSIGN_OR_RETURN(node->disk_, DiskIo::Open(loop, dir, options));
  BW_ASSIGN_OR_RETURN(node->net_,
                      UvNetwork::Create(loop, JoinPath(dir, "net")));
  node->io_.version = 1;
  node->disk_->Install(&node->io_);
  node->disk_->set_owner(node.get());
  node->io_.init = &NodeIo::Init;
  node->io_.start = &NodeIo::Start;
  node->io_.send = &NodeIo::Send;
  node->io_.time = &NodeIo::Time;
  node->io_.random = &NodeIo::Random;
  node->io_.close = &NodeIo::Close;
  return node;
}

NodeIo* NodeIo::Self(struct raft_io* io) {
  return static_cast<NodeIo*>(DiskIo::FromIo(io)->owner());
}

int NodeIo::Init(struct raft_io* io, raft_id id, const char* address) {
  NodeIo* node = Self(io);
  const int rv = node->net_->Init(id, address);
  if (rv != 0) {
    std::snprintf(io->errmsg, sizeof io->errmsg, "%s", node->net_->errmsg());
  }
  return rv;
}

int NodeIo::Start(struct raft_io* io, unsigned msecs, raft_io_tick_cb tick,
                  raft_io_recv_cb recv) {
  return Self(io)->net_->Start(io, msecs, tick, recv);
}

int NodeIo::Send(struct raft_io* io, struct raft_io_send* req,
                 const struct raft_message* message, raft_io_send_cb cb) {
  return Self(io)->net_->Send(req, message, cb);
}

raft_time NodeIo::Time(struct raft_io* io) { return Self(io)->net_->Time(); }

int NodeIo::Random(struct raft_io* io, int min, int max) {
  return Self(io)->net_->Random(min, max);
}

void NodeIo::Close(struct raft_io* io, raft_io_close_cb cb) {
  NodeIo* node = Self(io);
  node->net_->Close([node, cb] { node->disk_->CloseDisk(cb); });
}

}  // namespace blockwal::raft
