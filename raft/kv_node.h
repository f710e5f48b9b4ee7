// One server of the replicated key-value store (docs/raft.md, "The
// replicated key-value store"): libraft on NodeIo (raft/node_io.h) with
// KvFsm (raft/kv_fsm.h) as its state machine, on the caller's libuv loop.
// For comparison it can run on libraft's stock io instead
// (KvNodeOptions::storage).
// `kv serve` (tools/kv_serve.cc) puts the client protocol in front of it.
//
//   KvNodeOptions o;  // id, dir, addresses, every voter
//   auto node = KvNode::Start(&loop, o).value();  // bootstraps a new dir
//   node->Write(batch, [](const KvOutcome& r) { ... });
//   ... node->Close([] { ... }); run the loop until that has run ...
//
// On its first start in an empty directory the node bootstraps the
// configuration of `voters` (every server must be given the same list);
// later starts load it from the directory. Pre-vote is on. A leader
// proposes its own client address once per term (a tag-2 command), so the
// other servers can tell clients where the leader is.
//
// Everything runs on the loop's thread; callbacks run there, never inside
// the call that takes them.
#ifndef BLOCKWAL_RAFT_KV_NODE_H_
#define BLOCKWAL_RAFT_KV_NODE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/raft/kv_fsm.h"
#include "blockwal/raft/log_store.h"
#include "blockwal/raft/node_io.h"
#include "blockwal/raft/raft_c.h"

namespace blockwal::raft {

struct KvVoter {
  raft_id id = 0;
  std::string raft_address;  // HOST:PORT
};

struct KvNodeOptions {
  // The raft_io the node runs on.
  enum class Storage {
    kBlockwal,  // NodeIo: blockwal's disk half in `dir`, libraft's network
    kRaftUv,    // libraft's stock io (raft_uv_init + raft_uv_tcp_init) for
                // disk and network, in `dir`/raft-uv; `store` is unused
  };

  raft_id id = 0;
  std::string dir;
  Storage storage = Storage::kBlockwal;
  std::string raft_address;     // this server's, as in `voters`
  std::string client_address;   // told to clients when this server leads
  std::vector<KvVoter> voters;  // every voter, this server included
  // A snapshot every `snapshot_threshold` applied entries; the log keeps
  // `snapshot_trailing` entries behind it for slow followers.
  unsigned snapshot_threshold = 4096;
  unsigned snapshot_trailing = 1024;
  unsigned election_timeout_ms = 1000;
  unsigned heartbeat_timeout_ms = 100;
  LogStoreOptions store;
};

// How a write or a barrier ended.
struct KvOutcome {
  enum Kind {
    kApplied,        // committed, and applied on this server
    kIndeterminate,  // proposed, then the outcome was lost (leadership lost,
                     // closing): it may or may not be committed
  };
  Kind kind = kApplied;
  std::string message;  // kIndeterminate: why
};

struct KvNodeStatus {
  int role = RAFT_UNAVAILABLE;  // RAFT_FOLLOWER, RAFT_CANDIDATE, RAFT_LEADER
  raft_term term = 0;
  raft_index applied = 0;
  raft_index commit = 0;
  raft_index last = 0;
  raft_id leader = 0;  // 0: none known
};

class KvNode {
 public:
  using Done = std::function<void(const KvOutcome&)>;

  // Opens the directory, bootstraps it when new, and starts raft.
  static absl::StatusOr<std::unique_ptr<KvNode>> Start(uv_loop_t* loop,
                                                       KvNodeOptions options);
  // Close must have finished (its callback run) first.
  ~KvNode();
  KvNode(const KvNode&) = delete;
  KvNode& operator=(const KvNode&) = delete;

  // Proposes `batch`. kFailedPrecondition "not the leader" when this server
  // does not lead (nothing proposed); another error when raft refuses it
  // (nothing proposed). OK: `done` runs later, exactly once.
  absl::Status Write(const db::WriteBatch& batch, Done done);
  // A raft barrier: `done` (kApplied) once every entry committed before it
  // is applied here, the point a linearizable read reads at. Refusals as
  // for Write.
  absl::Status Barrier(Done done);

  const KvFsm& fsm() const { return fsm_; }
  KvNodeStatus status();
  // The leader's client address as the cluster last announced it; "" when
  // no leader is known or it has not announced one yet.
  std::string LeaderClientAddress();
  raft_id id() const { return options_.id; }

  // A fault switch for partition tests (UvNetwork::set_isolated): cuts this
  // server off from the others, or reconnects it. Storage::kBlockwal only
  // (the stock io has no such switch): with kRaftUv it does nothing.
  void SetIsolated(bool isolated) {
    if (node_io_ != nullptr) node_io_->network()->set_isolated(isolated);
  }

  // Stops raft and the io; pending writes end kIndeterminate; `done` runs
  // once everything is closed.
  void Close(std::function<void()> done);

 private:
  struct Request;
  KvNode(uv_loop_t* loop, KvNodeOptions options);
  absl::Status OpenIo();
  absl::Status Init();
  // kFailedPrecondition unless this server leads and is not closing.
  absl::Status CheckLeading();
  absl::Status Propose(std::string command, Done done);
  static void OnApplied(struct raft_apply* req, int status, void* result);
  static void OnBarrier(struct raft_barrier* req, int status);
  static void OnTimer(uv_timer_t* timer);
  void AnnounceIfLeader();

  uv_loop_t* const loop_;
  const KvNodeOptions options_;
  // One of the two, as options_.storage says; raft_io_ is its raft_io.
  struct StockIo;
  std::unique_ptr<NodeIo> node_io_;
  std::unique_ptr<StockIo> stock_io_;
  struct raft_io* raft_io_ = nullptr;
  KvFsm fsm_;
  struct raft raft_ = {};
  uv_timer_t timer_ = {};
  raft_term announced_term_ = 0;
  std::function<void()> close_done_;
  bool started_ = false;  // raft_init succeeded
  bool timer_started_ = false;
  bool closing_ = false;
  int open_handles_ = 0;  // raft and the timer, while closing
};

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_KV_NODE_H_
