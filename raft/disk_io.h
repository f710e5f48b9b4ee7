// The disk half of libraft's struct raft_io (load, bootstrap, recover,
// set_term, set_vote, append, truncate, snapshot_put, snapshot_get, and close)
// on a LogStore (raft/log_store.h), for a server running on a libuv loop.
//
//   auto disk = DiskIo::Open(loop, "/data/raft", {}).value();
//   disk->Install(&io);          // the disk methods and io.impl; the network
//                                // half fills the rest of io
//   ... raft runs ...
//   io.close(&io, closed_cb);    // or a network half's close calling it
//   ... closed_cb runs on the loop; then destroy disk
//
// The methods find the DiskIo in io->impl, never io->data (raft owns it).
// They are called on the loop thread, as raft does.
//
// Synchronous: load, bootstrap, recover, set_term, set_vote (durable before
// they return). Asynchronous: append, truncate, snapshot_put and snapshot_get
// go, in submission order, to one FIFO drained by a writer thread:
//   - the appends at the front of the FIFO are written together, with one
//     AppendBatch and one sync (group commit), each taking the next index;
//   - truncate (no callback) and snapshot_put/get take effect after the
//     requests queued before them and before later ones.
// Their callbacks run on the loop thread (a uv_async_t wakes it; it drains a
// completion queue), in submission order, never inside the call that queued
// the request, and for an append only once its entries are durable. Entry
// and snapshot memory handed in by raft is read until the request's callback.
//
// Errors (status codes given to raft): RAFT_CANTBOOTSTRAP (bootstrap with
// state), RAFT_NOSPACE (kResourceExhausted: file system full, or a result
// that could not be allocated), RAFT_CORRUPT (damaged files), RAFT_NOTFOUND
// (snapshot_get without a snapshot), RAFT_CANCELED (queued when close was
// called), RAFT_INVALID (append of a RAFT_COMMAND entry whose payload is not
// padded to a multiple of 8, raft/entry_codec.h), RAFT_IOERR (any other
// failure); io->errmsg holds the message of
// a failure: set before a synchronous method returns, and before the callback
// of a failed asynchronous request runs (a truncate has no callback: a failed
// one shows in the requests after it). A failed write fails every later write
// (LogStore's sticky error).
//
// Memory: load's and snapshot_get's results are allocated with raft_malloc
// for raft to free; the loaded entries share one batch buffer.
#ifndef BLOCKWAL_RAFT_DISK_IO_H_
#define BLOCKWAL_RAFT_DISK_IO_H_

#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "blockwal/raft/log_store.h"
#include "blockwal/raft/raft_c.h"

namespace blockwal::raft {

class DiskIo {
 public:
  // Opens the store in `dir` and starts the writer thread; the async handle
  // is registered on `loop`, which must be run on the calling thread.
  static absl::StatusOr<std::unique_ptr<DiskIo>> Open(
      uv_loop_t* loop, const std::string& dir,
      const LogStoreOptions& options = {});
  // Close must have finished (its callback run) before destruction, unless
  // the loop never ran (then the writer is stopped here; the async handle
  // stays registered on the loop).
  ~DiskIo();

  DiskIo(const DiskIo&) = delete;
  DiskIo& operator=(const DiskIo&) = delete;

  // Sets io->impl to this and io's disk methods and close.
  void Install(struct raft_io* io);
  // The DiskIo installed on `io`.
  static DiskIo* FromIo(struct raft_io* io) {
    return static_cast<DiskIo*>(io->impl);
  }
  // Whatever composed this disk half with a network half into one io (the
  // network methods find it here, as io->impl is this). Not used here.
  void set_owner(void* owner) { owner_ = owner; }
  void* owner() const { return owner_; }
  // io->close's work on the disk half, for an io whose close does more.
  void CloseDisk(raft_io_close_cb cb) { Close(io_, cb); }

  LogStore* store() { return store_.get(); }

  // The raft code for a status (see the file comment).
  static int RaftCode(const absl::Status& s);

  struct Request;  // a queued request (disk_io.cc)

 private:
  explicit DiskIo(uv_loop_t* loop);

  // The raft_io methods (io->impl is the DiskIo).
  static int Load(struct raft_io* io, raft_term* term, raft_id* vote,
                  struct raft_snapshot** snapshot, raft_index* start_index,
                  struct raft_entry** entries, size_t* n_entries);
  static int Bootstrap(struct raft_io* io,
                       const struct raft_configuration* conf);
  static int Recover(struct raft_io* io, const struct raft_configuration* conf);
  static int SetTerm(struct raft_io* io, raft_term term);
  static int SetVote(struct raft_io* io, raft_id vote);
  static int Append(struct raft_io* io, struct raft_io_append* req,
                    const struct raft_entry entries[], unsigned n,
                    raft_io_append_cb cb);
  static int Truncate(struct raft_io* io, raft_index index);
  static int SnapshotPut(struct raft_io* io, unsigned trailing,
                         struct raft_io_snapshot_put* req,
                         const struct raft_snapshot* snapshot,
                         raft_io_snapshot_put_cb cb);
  static int SnapshotGet(struct raft_io* io, struct raft_io_snapshot_get* req,
                         raft_io_snapshot_get_cb cb);
  static void Close(struct raft_io* io, raft_io_close_cb cb);

  // Queues r for the writer; RAFT_CANCELED after close.
  int Submit(std::unique_ptr<Request> r);
  // The writer thread: drains queue_ until stopping_.
  void WriterLoop();
  // Runs one drained step: a group of appends, or one other request.
  void Run(std::deque<std::unique_ptr<Request>>* step);
  // On the loop: calls back every completed request, in order.
  void DrainCompletions();
  static void OnAsync(uv_async_t* handle);
  static void OnAsyncClosed(uv_handle_t* handle);
  // Sets io->errmsg from s and returns its raft code (0 for OK).
  int Report(const absl::Status& s);

  uv_loop_t* const loop_;
  struct raft_io* io_ = nullptr;
  void* owner_ = nullptr;
  std::unique_ptr<LogStore> store_;
  uv_async_t async_;
  std::thread writer_;
  raft_io_close_cb close_cb_ = nullptr;
  bool closing_ = false;  // loop thread only

  absl::Mutex mu_;
  std::deque<std::unique_ptr<Request>> queue_ ABSL_GUARDED_BY(mu_);
  std::deque<std::unique_ptr<Request>> done_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_DISK_IO_H_
