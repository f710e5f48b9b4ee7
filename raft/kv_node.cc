// KvNode (raft/kv_node.h): libraft on NodeIo (or its stock io) with KvFsm,
// on a libuv loop.
#include "blockwal/raft/kv_node.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/raft/entry_codec.h"
#include "blockwal/raft/uv_network.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::raft {

namespace {

// How often a server checks whether it leads a term it has not announced
// its client address in.
constexpr uint64_t kAnnounceCheckMs = 50;

}  // namespace

// One proposal in flight: raft holds `apply` or `barrier` until its
// callback, which deletes the request.
struct KvNode::Request {
  union {
    struct raft_apply apply;
    struct raft_barrier barrier;
  };
  KvNode::Done done;
  Request() : apply() {}
};

// libraft's stock io (Storage::kRaftUv) and its TCP transport. Destroyed
// once raft has closed the io, or when raft never had it.
struct KvNode::StockIo {
  struct raft_uv_transport transport = {};
  struct raft_io io = {};
  bool transport_ready = false;
  bool io_ready = false;

  ~StockIo() {
    // raft_uv_close frees the io's memory; the transport goes after it.
    if (io_ready) raft_uv_close(&io);
    if (transport_ready) raft_uv_tcp_close(&transport);
  }
};

KvNode::KvNode(uv_loop_t* loop, KvNodeOptions options)
    : loop_(loop), options_(std::move(options)) {}

KvNode::~KvNode() = default;

absl::StatusOr<std::unique_ptr<KvNode>> KvNode::Start(uv_loop_t* loop,
                                                      KvNodeOptions options) {
  std::unique_ptr<KvNode> node(new KvNode(loop, std::move(options)));
  absl::Status s = node->Init();
  if (!s.ok()) {
    // raft_init may have run: close it (its callback runs on the loop).
    if (node->started_) {
      bool closed = false;
      node->Close([&closed] { closed = true; });
      while (!closed) uv_run(loop, UV_RUN_ONCE);
    }
    return s;
  }
  return node;
}

absl::Status KvNode::OpenIo() {
  if (options_.storage == KvNodeOptions::Storage::kBlockwal) {
    BW_ASSIGN_OR_RETURN(node_io_,
                        NodeIo::Open(loop_, options_.dir, options_.store));
    raft_io_ = node_io_->io();
    return absl::OkStatus();
  }
  IgnoreSigpipe();  // as UvNetwork does for the network half
  const std::string dir = JoinPath(options_.dir, "raft-uv");
  FileSystem* fs = FileSystem::Default();
  BW_RETURN_IF_ERROR(fs->CreateDir(options_.dir));
  BW_RETURN_IF_ERROR(fs->CreateDir(dir));
  stock_io_ = std::make_unique<StockIo>();
  int rv = raft_uv_tcp_init(&stock_io_->transport, loop_);
  if (rv != 0) {
    return absl::InternalError(
        absl::StrCat(dir, ": raft_uv_tcp_init: ", raft_strerror(rv)));
  }
  stock_io_->transport_ready = true;
  rv = raft_uv_init(&stock_io_->io, loop_, dir.c_str(), &stock_io_->transport);
  if (rv != 0) {
    return absl::InternalError(
        absl::StrCat(dir, ": raft_uv_init: ", raft_strerror(rv), " (",
                     stock_io_->io.errmsg, ")"));
  }
  stock_io_->io_ready = true;
  raft_io_ = &stock_io_->io;
  return absl::OkStatus();
}

absl::Status KvNode::Init() {
  const std::string where =
      absl::StrCat("kv node ", options_.id, " (", options_.dir, ")");
  BW_RETURN_IF_ERROR(OpenIo());
  raft_.data = this;
  int rv = raft_init(&raft_, raft_io_, fsm_.fsm(), options_.id,
                     options_.raft_address.c_str());
  if (rv != 0) {
    return absl::InternalError(
        absl::StrCat(where, ": raft_init: ", raft_errmsg(&raft_)));
  }
  started_ = true;
  raft_set_election_timeout(&raft_, options_.election_timeout_ms);
  raft_set_heartbeat_timeout(&raft_, options_.heartbeat_timeout_ms);
  raft_set_pre_vote(&raft_, true);
  raft_set_snapshot_threshold(&raft_, options_.snapshot_threshold);
  raft_set_snapshot_trailing(&raft_, options_.snapshot_trailing);

  struct raft_configuration conf;
  raft_configuration_init(&conf);
  for (const KvVoter& v : options_.voters) {
    rv =
        raft_configuration_add(&conf, v.id, v.raft_address.c_str(), RAFT_VOTER);
    if (rv != 0) break;
  }
  if (rv == 0) rv = raft_bootstrap(&raft_, &conf);
  raft_configuration_close(&conf);
  // RAFT_CANTBOOTSTRAP: the directory has state already (a restart).
  if (rv != 0 && rv != RAFT_CANTBOOTSTRAP) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, ": bootstrap: ", raft_strerror(rv), ": ", raft_errmsg(&raft_)));
  }
  rv = raft_start(&raft_);
  if (rv != 0) {
    return absl::InternalError(
        absl::StrCat(where, ": raft_start: ", raft_errmsg(&raft_)));
  }
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  timer_started_ = true;
  uv_timer_start(&timer_, &KvNode::OnTimer, kAnnounceCheckMs, kAnnounceCheckMs);
  return absl::OkStatus();
}

namespace {

// Why raft refused a proposal with `rv` (nothing was proposed).
absl::Status Refused(int rv, const char* call) {
  if (rv == RAFT_NOTLEADER)
    return absl::FailedPreconditionError("not the leader");
  return absl::UnavailableError(absl::StrCat(call, ": ", raft_strerror(rv)));
}

}  // namespace

absl::Status KvNode::CheckLeading() {
  if (closing_) return absl::FailedPreconditionError("closing");
  if (raft_state(&raft_) != RAFT_LEADER) {
    return absl::FailedPreconditionError("not the leader");
  }
  return absl::OkStatus();
}

absl::Status KvNode::Write(const db::WriteBatch& batch, Done done) {
  return Propose(EncodeBatchCommand(batch), std::move(done));
}

absl::Status KvNode::Propose(std::string command, Done done) {
  if (absl::Status s = CheckLeading(); !s.ok()) return s;
  struct raft_buffer buf;
  buf.len = PaddedCommandSize(command.size());
  buf.base = raft_malloc(buf.len);
  if (buf.base == nullptr) return absl::ResourceExhaustedError("out of memory");
  PadCommandInto(command, static_cast<char*>(buf.base));
  auto* req = new Request;
  req->done = std::move(done);
  req->apply.data = req;
  const int rv = raft_apply(&raft_, &req->apply, &buf, 1, &KvNode::OnApplied);
  if (rv != 0) {
    raft_free(buf.base);  // raft takes the buffer only when it accepts it
    delete req;
    return Refused(rv, "raft_apply");
  }
  return absl::OkStatus();
}

absl::Status KvNode::Barrier(Done done) {
  if (absl::Status s = CheckLeading(); !s.ok()) return s;
  auto* req = new Request;
  req->barrier = {};
  req->done = std::move(done);
  req->barrier.data = req;
  const int rv = raft_barrier(&raft_, &req->barrier, &KvNode::OnBarrier);
  if (rv != 0) {
    delete req;
    return Refused(rv, "raft_barrier");
  }
  return absl::OkStatus();
}

namespace {

KvOutcome OutcomeOf(int status) {
  if (status == 0) return {KvOutcome::kApplied, ""};
  return {KvOutcome::kIndeterminate, raft_strerror(status)};
}

}  // namespace

void KvNode::OnApplied(struct raft_apply* req, int status, void* /*result*/) {
  std::unique_ptr<Request> r(static_cast<Request*>(req->data));
  r->done(OutcomeOf(status));
}

void KvNode::OnBarrier(struct raft_barrier* req, int status) {
  std::unique_ptr<Request> r(static_cast<Request*>(req->data));
  r->done(OutcomeOf(status));
}

void KvNode::OnTimer(uv_timer_t* timer) {
  static_cast<KvNode*>(timer->data)->AnnounceIfLeader();
}

void KvNode::AnnounceIfLeader() {
  if (closing_ || raft_state(&raft_) != RAFT_LEADER) return;
  const raft_term term = raft_.current_term;
  if (announced_term_ == term) return;
  announced_term_ = term;
  absl::Status s =
      Propose(EncodeAddressCommand(options_.id, options_.client_address),
              [this, term](const KvOutcome& r) {
                // Lost with the leadership: a later term announces again.
                if (r.kind != KvOutcome::kApplied && announced_term_ == term &&
                    !closing_) {
                  announced_term_ = 0;
                }
              });
  if (!s.ok()) announced_term_ = 0;
}

KvNodeStatus KvNode::status() {
  KvNodeStatus st;
  st.role = raft_state(&raft_);
  st.term = raft_.current_term;
  st.applied = raft_last_applied(&raft_);
  st.commit = raft_.commit_index;
  st.last = raft_last_index(&raft_);
  const char* address = nullptr;
  raft_leader(&raft_, &st.leader, &address);
  return st;
}

std::string KvNode::LeaderClientAddress() {
  raft_id leader = 0;
  const char* address = nullptr;
  raft_leader(&raft_, &leader, &address);
  if (leader == 0) return "";
  if (leader == options_.id) return options_.client_address;
  return fsm_.ClientAddress(leader).value_or("");
}

void KvNode::Close(std::function<void()> done) {
  closing_ = true;
  close_done_ = std::move(done);
  open_handles_ = 1;
  if (timer_started_) {
    ++open_handles_;
    uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
      KvNode* n = static_cast<KvNode*>(h->data);
      if (--n->open_handles_ == 0) n->close_done_();
    });
  }
  raft_close(&raft_, [](struct raft* r) {
    KvNode* n = static_cast<KvNode*>(r->data);
    n->node_io_.reset();
    n->stock_io_.reset();
    if (--n->open_handles_ == 0) n->close_done_();
  });
}

}  // namespace blockwal::raft
