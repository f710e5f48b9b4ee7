// The network half of a raft_io: libraft's own TCP networking, reused.
//
// libraft exposes no network half on its own: message encoding, send queues
// and the receiving state machine live inside its stock libuv io. So a
// UvNetwork creates that stock io (raft_uv_init, with the TCP transport of
// raft_uv_tcp_init) and uses only its network methods: init (the transport
// and the tick timer), start (ticks and receiving), send, time, random and
// close. Its disk methods are never called.
//
//   auto net = UvNetwork::Create(loop, "/data/node1/raft-net");
//   // in the outer io's methods (the outer io is what raft_init was given):
//   net->Init(id, "127.0.0.1:9001");
//   net->Start(outer_io, msecs, tick, recv);  // raft's callbacks get outer_io
//   net->Send(req, message, cb);
//   net->Close([] { ... });  // then destroy it
//
// Contract
//   - The stock io probes its directory at init and deletes temporary files
//     it finds there, so `scratch_dir` is its own: created if missing, and
//     never a directory holding blockwal's (or anyone's) files.
//   - Start's tick and recv callbacks are called with the outer io (raft
//     reads its instance from the io it is called with), on the loop thread.
//     The stock io's own `data` field holds the UvNetwork; `impl` is its.
//   - Everything runs on the loop's thread. Destroy a UvNetwork only when
//     Close's callback has run, or when Init never succeeded.
//   - Errors are libraft's codes (RAFT_*), with its message in errmsg().
//   - Create sets SIGPIPE to be ignored, process-wide, when it has its
//     default action (which would end the process when a peer closes a
//     connection libuv is writing to); a disposition the application set
//     is left alone.
#ifndef BLOCKWAL_RAFT_UV_NETWORK_H_
#define BLOCKWAL_RAFT_UV_NETWORK_H_

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "blockwal/raft/raft_c.h"

namespace blockwal::raft {

// libuv writes to sockets with write(2), so a peer that closed its end
// raises SIGPIPE, whose default action ends the process; raft peers close
// connections whenever they stop. Sets SIGPIPE to be ignored when it has
// its default action (EPIPE then fails the send); a disposition the
// application installed is left alone.
void IgnoreSigpipe();

class UvNetwork {
 public:
  // Creates the scratch directory if needed, the TCP transport and the
  // stock io on `loop`. Errors: the directory's, or libraft's (kInternal
  // naming its code and message).
  static absl::StatusOr<std::unique_ptr<UvNetwork>> Create(
      uv_loop_t* loop, const std::string& scratch_dir);
  ~UvNetwork();
  UvNetwork(const UvNetwork&) = delete;
  UvNetwork& operator=(const UvNetwork&) = delete;

  // raft_io->init: binds this server's identity and address.
  int Init(raft_id id, const char* address);
  // raft_io->start: ticks every `msecs` and receives messages; `tick` and
  // `recv` are called with `outer`.
  int Start(struct raft_io* outer, unsigned msecs, raft_io_tick_cb tick,
            raft_io_recv_cb recv);
  // raft_io->send, time and random.
  int Send(struct raft_io_send* req, const struct raft_message* message,
           raft_io_send_cb cb);
  raft_time Time();
  int Random(int min, int max);
  // raft_io->close: stops ticking, receiving and sending (pending sends
  // complete with an error), then calls `done` on the loop thread.
  void Close(std::function<void()> done);

  // The stock io's last error message.
  const char* errmsg() const { return inner_.errmsg; }

  // A fault switch for partition tests: while isolated, every send fails
  // with RAFT_NOCONNECTION (raft drops the message, as for a peer it cannot
  // reach) and every message received is dropped (its memory freed), so the
  // server neither hears nor is heard; its ticks and disk go on.
  void set_isolated(bool isolated) { isolated_ = isolated; }
  bool isolated() const { return isolated_; }

 private:
  UvNetwork() = default;
  static void TickTrampoline(struct raft_io* inner);
  static void RecvTrampoline(struct raft_io* inner,
                             struct raft_message* message);
  static void ClosedTrampoline(struct raft_io* inner);
  static void DropMessage(struct raft_message* message);

  struct raft_uv_transport transport_ = {};
  struct raft_io inner_ = {};
  bool transport_ready_ = false;
  bool inner_ready_ = false;
  struct raft_io* outer_ = nullptr;
  raft_io_tick_cb tick_ = nullptr;
  raft_io_recv_cb recv_ = nullptr;
  std::function<void()> on_closed_;
  bool isolated_ = false;
};

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_UV_NETWORK_H_
