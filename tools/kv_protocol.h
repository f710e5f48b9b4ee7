// The lines of the replicated key-value store's client protocol
// (docs/raft.md, "The client protocol"): how a word is quoted, the request
// lines `kv client` sends and `kv serve` reads, and the answer lines the
// server sends and the client reads. Words are separated by one space and
// written in the `kv shell` grammar (tools/kv_shell.h); every line built
// here ends in '\n', and every parser takes a line without it.
#ifndef BLOCKWAL_TOOLS_KV_PROTOCOL_H_
#define BLOCKWAL_TOOLS_KV_PROTOCOL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace blockwal::tools::kv {

// `word` as one word of the shell grammar, so that SplitShellLine gives it
// back exactly: as it is when it is non-empty and all printable ASCII other
// than space, '"' and '\'; otherwise in double quotes, with \" \\ \n \t \r
// \0 for those bytes and \xNN (lowercase hex) for every other byte outside
// printable ASCII. Space and the other printable characters stand as they
// are inside the quotes.
std::string QuoteWord(absl::string_view word);

// ---- requests ----

enum class RequestKind { kPut, kDel, kGet, kLocalGet, kStatus, kDump };

// The request's first word: "put", "del", "get", "local_get", "status",
// "dump".
absl::string_view RequestName(RequestKind kind);

// True for the requests that change the store (put, del): the ones a
// client must never send twice when it does not know what came of them.
bool IsWrite(RequestKind kind);

struct Request {
  RequestKind kind = RequestKind::kStatus;
  std::string key;    // put, del, get, local_get
  std::string value;  // put
};

std::string PutRequest(absl::string_view key, absl::string_view value);
std::string DelRequest(absl::string_view key);
std::string GetRequest(absl::string_view key);
std::string LocalGetRequest(absl::string_view key);
std::string StatusRequest();
std::string DumpRequest();
// The line for `request`, as the builders above write it.
std::string FormatRequest(const Request& request);

// Parses a request line. kInvalidArgument, with a message fit for an
// `ERR` answer, for a line the grammar refuses, an unknown request or the
// wrong number of words ("usage: put KEY VALUE").
absl::StatusOr<Request> ParseRequest(absl::string_view line);

// ---- answers ----

enum class AnswerKind {
  kOk,             // OK
  kValue,          // VALUE V
  kNotFound,       // NOT_FOUND
  kRedirect,       // REDIRECT ID ADDRESS
  kNoLeader,       // NO_LEADER
  kIndeterminate,  // INDETERMINATE MESSAGE
  kErr,            // ERR MESSAGE
  kStatus,         // id=N role=R term=T applied=I commit=C last=L leader=ID
  kKv,             // KV K V (a line of a dump)
  kEnd,            // END applied=I (the last line of a dump)
};

// A server's `status` answer. The seven figures come first, in this order;
// a server may send further NAME=VALUE words after them, kept in `extra`
// as they were sent (words separated by one space; empty when none).
struct ServerStatus {
  uint64_t id = 0;
  std::string role;  // "leader", "follower" or "candidate"
  uint64_t term = 0;
  uint64_t applied = 0;
  uint64_t commit = 0;
  uint64_t last = 0;
  uint64_t leader = 0;  // 0: none known
  std::string extra;
};

struct Answer {
  AnswerKind kind = AnswerKind::kOk;
  std::string key;         // kKv
  std::string value;       // kValue, kKv
  uint64_t leader_id = 0;  // kRedirect
  std::string address;     // kRedirect: HOST:PORT
  std::string message;     // kIndeterminate, kErr
  ServerStatus status;     // kStatus
  uint64_t applied = 0;    // kEnd
};

std::string OkAnswer();
std::string ValueAnswer(absl::string_view value);
std::string NotFoundAnswer();
std::string RedirectAnswer(uint64_t leader_id, absl::string_view address);
std::string NoLeaderAnswer();
std::string IndeterminateAnswer(absl::string_view message);
std::string ErrAnswer(absl::string_view message);
std::string StatusAnswer(const ServerStatus& status);
std::string KvAnswer(absl::string_view key, absl::string_view value);
std::string EndAnswer(uint64_t applied);
// The line for `answer`, as the builders above write it.
std::string FormatAnswer(const Answer& answer);

// Parses an answer line. kInvalidArgument naming the defect for a line the
// grammar refuses, an unknown first word, the wrong number of words, a
// number that is not a decimal u64, a REDIRECT to id 0 or to an address
// that is not HOST:PORT, a status line without its seven figures in order
// or with an unknown role. The MESSAGE of ERR and INDETERMINATE is one
// word; the parser also takes several (the rest of the line, decoded as
// UnquoteShellText decodes it), so that a server's bare "ERR some text"
// still reads as that text.
absl::StatusOr<Answer> ParseAnswer(absl::string_view line);

// Checks that `address` is HOST:PORT: a non-empty host (a name, an IPv4
// address or a bracketed IPv6 one), a colon and a decimal port 1-65535.
// kInvalidArgument saying what is wrong.
absl::Status CheckAddress(absl::string_view address);

}  // namespace blockwal::tools::kv

#endif  // BLOCKWAL_TOOLS_KV_PROTOCOL_H_
