// The durable current term and vote of a raft server (raft_io's set_term and
// set_vote), in two alternating checksummed slots.
//
// Layout: two files in the server's directory, term_vote.0 and term_vote.1,
// each holding one 32-byte slot:
//   offset 0   masked CRC32C (util/crc32c.h) of bytes 4..31, u32 LE
//   offset 4   magic "bwtv"
//   offset 8   version  u64 LE: 1 for the first write, +1 for each write
//   offset 16  term     u64 LE
//   offset 24  vote     u64 LE (a server id; 0 = no vote)
// A slot is valid when the file is exactly 32 bytes, the magic matches and
// the checksum matches. The value is the valid slot with the higher version.
//
// Why two files rather than one file with two slots: blockwal's FileSystem
// writes files by appending (util/file_system.h), so rewriting the first slot
// of a two-slot file would mean cutting away the second, the newer one, until
// it is written back. With one slot per file, a write replaces the older
// file's contents (truncate, append, one fdatasync) and never touches the
// newer one: a crash at any point leaves the newer slot intact, and the torn
// older slot fails its checksum.
//
// A slot file is created the first time it is written (the first two
// writes), as a temporary file that is synced, renamed into place and made
// durable with a directory sync; so a slot file, once it has its name, always
// held a complete slot. Each later write is one fdatasync.
//
// Loading: neither file exists: term 0, vote 0 (a new server). One valid slot
// or two: the newest one. A file that exists with no valid slot anywhere:
// kDataLoss naming each file and what is wrong with it (damage, since no
// crash leaves that). A leftover temporary file (term_vote.N.tmp) is ignored.
#ifndef BLOCKWAL_RAFT_TERM_VOTE_H_
#define BLOCKWAL_RAFT_TERM_VOTE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "blockwal/util/file_system.h"

namespace blockwal::raft {

inline constexpr char kTermVoteFile0[] = "term_vote.0";
inline constexpr char kTermVoteFile1[] = "term_vote.1";
inline constexpr size_t kTermVoteSlotSize = 32;

struct TermVote {
  uint64_t term = 0;
  uint64_t vote = 0;
  friend bool operator==(const TermVote&, const TermVote&) = default;
};

// Not thread-safe: one user at a time (raft's loop thread).
class TermVoteStore {
 public:
  // Loads the term and vote kept in `dir` (which must exist); creates and
  // changes nothing. Errors: kDataLoss as above; the file system's errors
  // naming the file.
  static absl::StatusOr<std::unique_ptr<TermVoteStore>> Open(
      FileSystem* fs, const std::string& dir);
  // The same load without keeping a store (inspection).
  static absl::StatusOr<TermVote> Load(FileSystem* fs, const std::string& dir);

  TermVoteStore(const TermVoteStore&) = delete;
  TermVoteStore& operator=(const TermVoteStore&) = delete;

  // The last durable value (as loaded, or as last written successfully).
  const TermVote& current() const { return current_; }
  uint64_t term() const { return current_.term; }
  uint64_t vote() const { return current_.vote; }

  // Makes {term, vote 0} durable: this store clears the vote on a new term,
  // as raft's set_term requires, so the caller never writes twice.
  absl::Status SetTerm(uint64_t term);
  // Makes {term(), vote} durable.
  absl::Status SetVote(uint64_t vote);

  // After a failed write nothing is assumed about the slot it went to: the
  // error is sticky (every later Set* returns it), current() keeps the last
  // value known durable, and reopening tells which value survived (the old
  // one or the new one, never anything else).
  const absl::Status& status() const { return status_; }

 private:
  TermVoteStore(FileSystem* fs, std::string dir)
      : fs_(fs), dir_(std::move(dir)) {}
  // Reads both slots into *this (current_, versions, which files exist).
  absl::Status LoadSlots();
  // Writes `value` to the older slot with the next version.
  absl::Status Write(TermVote value);
  std::string SlotPath(int slot) const;

  FileSystem* const fs_;
  const std::string dir_;
  TermVote current_;
  uint64_t version_[2] = {0, 0};  // 0: the slot holds no valid value
  bool exists_[2] = {false, false};
  absl::Status status_;
};

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_TERM_VOTE_H_
