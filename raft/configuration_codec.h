// blockwal's own encoding of a raft cluster configuration (the servers: id,
// address, role), stored in snapshot files (raft/snapshot_file.h).
//
// libraft 0.15 has raft_configuration_encode but no public decoder, and a
// loaded snapshot must hand raft a decoded `struct raft_configuration`; so
// blockwal stores configurations in this small documented format of its own
// and converts to and from libraft's struct here.
//
// Encoding:
//   format    u8 = 1
//   n         varint32, the number of servers
//   n times:  id       u64 little-endian (non-zero)
//             role     u8: RAFT_STANDBY (0), RAFT_VOTER (1) or RAFT_SPARE (2)
//             address  varint32 length, then that many bytes (no NUL)
// Nothing may follow the last server.
#ifndef BLOCKWAL_RAFT_CONFIGURATION_CODEC_H_
#define BLOCKWAL_RAFT_CONFIGURATION_CODEC_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/raft/raft_c.h"

namespace blockwal::raft {

struct Server {
  uint64_t id = 0;
  std::string address;
  int role = RAFT_VOTER;

  friend bool operator==(const Server&, const Server&) = default;
};

using Configuration = std::vector<Server>;

std::string EncodeConfiguration(const Configuration& conf);
// Errors are kDataLoss naming `where`, the server number and what is wrong
// ("unknown format 7", "server 2 of 3 is cut short", "server 1 has id 0",
// "server 1 has unknown role 9", "N trailing bytes").
absl::StatusOr<Configuration> DecodeConfiguration(absl::string_view encoded,
                                                  absl::string_view where);

// A copy of libraft's configuration.
Configuration FromRaftConfiguration(const struct raft_configuration& conf);
// Fills *out (which must be empty: raft_configuration_init'd) with `conf`,
// allocated with raft_malloc as raft expects; on failure *out is closed
// (empty again) and the error is kResourceExhausted (out of memory) or
// kInvalidArgument (a duplicate id or address, a bad role: libraft's own
// checks), naming the server.
absl::Status ToRaftConfiguration(const Configuration& conf,
                                 struct raft_configuration* out);

}  // namespace blockwal::raft

#endif  // BLOCKWAL_RAFT_CONFIGURATION_CODEC_H_
