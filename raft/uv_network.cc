// UvNetwork (raft/uv_network.h): libraft's stock libuv io, used for its
// network methods only, with trampolines that hand raft its own io back.
#include "blockwal/raft/uv_network.h"

#include <signal.h>

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::raft {

void IgnoreSigpipe() {
  struct sigaction current;
  if (sigaction(SIGPIPE, nullptr, &current) == 0 &&
      current.sa_handler == SIG_DFL) {
    signal(SIGPIPE, SIG_IGN);
  }
}

absl::StatusOr<std::unique_ptr<UvNetwork>> UvNetwork::Create(
    uv_loop_t* loop, const std::string& scratch_dir) {
  IgnoreSigpipe();
  FileSystem* fs = FileSystem::Default();
  BW_ASSIGN_OR_RETURN(const bool exists, fs->FileExists(scratch_dir));
  if (!exists) BW_RETURN_IF_ERROR(fs->CreateDir(scratch_dir));
  std::unique_ptr<UvNetwork> net(new UvNetwork());
  int rv = raft_uv_tcp_init(&net->transport_, loop);
  if (rv != 0) {
    return absl::InternalError(absl::StrCat(
        scratch_dir, ": raft_uv_tcp_init failed: ", raft_strerror(rv)));
  }
  net->transport_ready_ = true;
  rv = raft_uv_init(&net->inner_, loop, scratch_dir.c_str(), &net->transport_);
  if (rv != 0) {
    return absl::InternalError(
        absl::StrCat(scratch_dir, ": raft_uv_init failed: ", raft_strerror(rv),
                     " (", net->inner_.errmsg, ")"));
  }
  net->inner_ready_ = true;
  net->inner_.data =
      net.get();  // raft_uv_init keeps `data`; the stock io never reads it
  return net;
}

UvNetwork::~UvNetwork() {
  // raft_uv_close frees the stock io's memory; it must be closed (or never
  // initialized) first, as must the transport.
  if (inner_ready_) raft_uv_close(&inner_);
  if (transport_ready_) raft_uv_tcp_close(&transport_);
}

int UvNetwork::Init(raft_id id, const char* address) {
  return inner_.init(&inner_, id, address);
}

int UvNetwork::Start(struct raft_io* outer, unsigned msecs,
                     raft_io_tick_cb tick, raft_io_recv_cb recv) {
  outer_ = outer;
  tick_ = tick;
  recv_ = recv;
  return inner_.start(&inner_, msecs, &TickTrampoline, &RecvTrampoline);
}

int UvNetwork::Send(struct raft_io_send* req,
                    const struct raft_message* message, raft_io_send_cb cb) {
  if (isolated_) return RAFT_NOCONNECTION;
  return inner_.send(&inner_, req, message, cb);
}

raft_time UvNetwork::Time() { return inner_.time(&inner_); }

int UvNetwork::Random(int min, int max) {
  return inner_.random(&inner_, min, max);
}

void UvNetwork::Close(std::function<void()> done) {
  on_closed_ = std::move(done);
  inner_.close(&inner_, &ClosedTrampoline);
}

// Frees what a received message owns (raft would have taken it): the
// entries of an AppendEntries (one batch buffer per batch, and the array),
// the configuration and data of an InstallSnapshot.
void UvNetwork::DropMessage(struct raft_message* message) {
  switch (message->type) {
    case RAFT_IO_APPEND_ENTRIES: {
      struct raft_entry* entries = message->append_entries.entries;
      void* batch = nullptr;
      for (unsigned i = 0; i < message->append_entries.n_entries; ++i) {
        if (entries[i].batch != batch) {
          batch = entries[i].batch;
          raft_free(batch);
        }
      }
      raft_free(entries);
      break;
    }
    case RAFT_IO_INSTALL_SNAPSHOT:
      raft_configuration_close(&message->install_snapshot.conf);
      raft_free(message->install_snapshot.data.base);
      break;
    default:
      break;
  }
}

void UvNetwork::TickTrampoline(struct raft_io* inner) {
  UvNetwork* net = static_cast<UvNetwork*>(inner->data);
  if (net->tick_ != nullptr) net->tick_(net->outer_);
}

void UvNetwork::RecvTrampoline(struct raft_io* inner,
                               struct raft_message* message) {
  UvNetwork* net = static_cast<UvNetwork*>(inner->data);
  if (net->isolated_) {
    DropMessage(message);
    return;
  }
  if (net->recv_ != nullptr) net->recv_(net->outer_, message);
}

void UvNetwork::ClosedTrampoline(struct raft_io* inner) {
  UvNetwork* net = static_cast<UvNetwork*>(inner->data);
  if (net->on_closed_) {
    // The callback may destroy the UvNetwork: move it out first.
    std::function<void()> done = std::move(net->on_closed_);
    done();
  }
}

}  // namespace blockwal::raft
