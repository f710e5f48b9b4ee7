// The one place the raft/ layer includes libraft's C headers (<raft.h> and
// <raft/uv.h>, libraft 0.15.x, pinned by CMakeLists.txt): they carry no
// extern "C" of their own. Every other file includes this header instead.
//
// C++ notes for these headers: `raft_apply` is both a struct and a function,
// so C++ code names the request type `struct raft_apply`. Inside namespace
// blockwal::raft the name `raft` is that namespace: libraft's instance type is
// written `struct raft` (or ::raft) there. Memory that raft frees (loaded
// entries, snapshots, configuration buffers) is allocated with raft_malloc,
// never with new or malloc.
#ifndef BLOCKWAL_RAFT_RAFT_C_H_
#define BLOCKWAL_RAFT_RAFT_C_H_

extern "C" {
#include <raft.h>
#include <raft/uv.h>
}

#endif  // BLOCKWAL_RAFT_RAFT_C_H_
