// `kv serve` (tools/kv_serve.h): a KvNode (raft/kv_node.h) and the client
// protocol of docs/raft.md on one libuv loop.
#include "tools/kv_serve.h"

#include <csignal>
#include <cstdio>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/raft/kv_node.h"
#include "tools/cli.h"
#include "tools/kv_protocol.h"

namespace blockwal::tools::kv {
namespace {

using raft::KvNode;
using raft::KvNodeOptions;
using raft::KvOutcome;

// ---- arguments ----

absl::StatusOr<raft::KvVoter> ParseVoter(absl::string_view item) {
  std::pair<absl::string_view, absl::string_view> kv =
      absl::StrSplit(item, absl::MaxSplits('=', 1));
  raft::KvVoter v;
  if (!absl::SimpleAtoi(kv.first, &v.id) || v.id == 0 || kv.second.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--peers: '", item, "' is not ID=HOST:PORT with ID a positive number"));
  }
  v.raft_address = std::string(kv.second);
  return v;
}

absl::Status SetOption(absl::string_view name, const std::string& value,
                       KvNodeOptions* o) {
  auto number = [&](unsigned* out) {
    if (!absl::SimpleAtoi(value, out) || *out == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ": '", value, "' is not a positive number"));
    }
    return absl::OkStatus();
  };
  if (name == "--id") {
    if (!absl::SimpleAtoi(value, &o->id) || o->id == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--id: '", value, "' is not a positive number"));
    }
  } else if (name == "--dir") {
    o->dir = value;
  } else if (name == "--raft") {
    o->raft_address = value;
  } else if (name == "--client") {
    o->client_address = value;
  } else if (name == "--peers") {
    for (absl::string_view item : absl::StrSplit(value, ',')) {
      absl::StatusOr<raft::KvVoter> v = ParseVoter(item);
      if (!v.ok()) return v.status();
      o->voters.push_back(*std::move(v));
    }
  } else if (name == "--storage") {
    if (value == "blockwal") {
      o->storage = KvNodeOptions::Storage::kBlockwal;
    } else if (value == "raft-uv") {
      o->storage = KvNodeOptions::Storage::kRaftUv;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--storage: '", value, "' is not blockwal or raft-uv"));
    }
  } else if (name == "--snapshot-threshold") {
    return number(&o->snapshot_threshold);
  } else if (name == "--snapshot-trailing") {
    return number(&o->snapshot_trailing);
  } else if (name == "--election-timeout-ms") {
    absl::Status s = number(&o->election_timeout_ms);
    o->heartbeat_timeout_ms = std::max(1u, o->election_timeout_ms / 10);
    return s;
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown flag '", name, "'"));
  }
  return absl::OkStatus();
}

// *fault_signals: --fault-signals was given.
absl::StatusOr<KvNodeOptions> ParseServeArgs(
    const std::vector<std::string>& args, bool* fault_signals) {
  KvNodeOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string name = args[i];
    std::string value;
    if (name == "--fault-signals") {
      *fault_signals = true;
      continue;
    }
    if (const size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name.resize(eq);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    }
    if (absl::Status s = SetOption(name, value, &o); !s.ok()) return s;
  }
  if (*fault_signals && o.storage != KvNodeOptions::Storage::kBlockwal) {
    return absl::InvalidArgumentError(
        "--fault-signals needs --storage blockwal (the stock io cannot cut "
        "a server off)");
  }
  for (const auto& [flag, given] :
       {std::pair<const char*, bool>{"--id", o.id != 0},
        {"--dir", !o.dir.empty()},
        {"--raft", !o.raft_address.empty()},
        {"--client", !o.client_address.empty()},
        {"--peers", !o.voters.empty()}}) {
    if (!given)
      return absl::InvalidArgumentError(absl::StrCat(flag, " is required"));
  }
  bool self_listed = false;
  for (const raft::KvVoter& v : o.voters) {
    if (v.id == o.id) {
      self_listed = true;
      if (v.raft_address != o.raft_address) {
        return absl::InvalidArgumentError(
            absl::StrCat("--peers gives server ", o.id, " the address ",
                         v.raft_address, ", --raft says ", o.raft_address));
      }
    }
  }
  if (!self_listed) {
    return absl::InvalidArgumentError(
        absl::StrCat("--peers does not list this server (--id ", o.id, ")"));
  }
  return o;
}

absl::StatusOr<struct sockaddr_in> ParseAddress(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  struct sockaddr_in addr = {};
  if (colon == std::string::npos ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 ||
      port > 65535 ||
      uv_ip4_addr(address.substr(0, colon).c_str(), port, &addr) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is not IPV4:PORT"));
  }
  return addr;
}

// ---- the server ----

// The longest request line a server reads (a put of a value about half
// this size, quoted).
constexpr size_t kMaxRequestBytes = 64 << 20;

class Server;

// One client connection: whole lines in, one answer each, in order; a
// request that waits on raft holds the ones after it.
struct Connection {
  uv_tcp_t tcp = {};
  Server* server = nullptr;
  std::string partial;            // bytes after the last newline
  std::deque<std::string> lines;  // requests not yet answered
  bool busy = false;              // one is waiting on raft
  bool closing = false;
};

class Server {
 public:
  Server(KvNodeOptions options, bool fault_signals)
      : options_(std::move(options)), fault_signals_(fault_signals) {}

  int Run();

 private:
  void Log(absl::string_view message) {
    std::fprintf(stderr, "kv serve %llu: %.*s\n",
                 static_cast<unsigned long long>(options_.id),
                 static_cast<int>(message.size()), message.data());
  }
  absl::Status Listen();
  static void OnConnection(uv_stream_t* listener, int status);
  static void OnRead(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf);
  static void OnSignal(uv_signal_t* handle, int signum);
  std::shared_ptr<Connection> Find(Connection* c);
  void Pump(const std::shared_ptr<Connection>& c);
  void Send(Connection* c, std::string text);
  void CloseConnection(Connection* c);
  void Shutdown();
  // Answers `line` now (returns the answer) or later through `answer`
  // (returns nullopt).
  std::optional<std::string> Handle(const std::string& line,
                                    std::function<void(std::string)> answer);
  std::optional<std::string> HandleWrite(
      const db::WriteBatch& batch, std::function<void(std::string)> answer);
  std::optional<std::string> HandleGet(const std::string& key,
                                       std::function<void(std::string)> answer);
  std::string NotLeaderAnswer();
  std::string Lookup(const std::string& key);
  std::string StatusLine();
  std::string Dump();

  const KvNodeOptions options_;
  uv_loop_t loop_ = {};
  std::unique_ptr<KvNode> node_;
  uv_tcp_t listener_ = {};
  const bool fault_signals_;
  // SIGTERM, SIGINT, and with --fault-signals SIGUSR1, SIGUSR2.
  uv_signal_t signals_[4] = {};
  int signal_count_ = 0;
  std::vector<std::shared_ptr<Connection>> connections_;
  bool shutting_down_ = false;
};

absl::Status Server::Listen() {
  absl::StatusOr<struct sockaddr_in> addr =
      ParseAddress(options_.client_address);
  if (!addr.ok()) return addr.status();
  uv_tcp_init(&loop_, &listener_);
  listener_.data = this;
  int rv = uv_tcp_bind(&listener_,
                       reinterpret_cast<const struct sockaddr*>(&*addr), 0);
  if (rv == 0) {
    rv = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 128,
                   &Server::OnConnection);
  }
  if (rv != 0) {
    return absl::UnavailableError(absl::StrCat(
        "listen on ", options_.client_address, ": ", uv_strerror(rv)));
  }
  return absl::OkStatus();
}

int Server::Run() {
  uv_loop_init(&loop_);
  absl::StatusOr<std::unique_ptr<KvNode>> node =
      KvNode::Start(&loop_, options_);
  if (!node.ok()) {
    Log(node.status().message());
    uv_loop_close(&loop_);
    return kExitFailed;
  }
  node_ = *std::move(node);
  absl::Status listening = Listen();
  for (int signum : {SIGTERM, SIGINT, SIGUSR1, SIGUSR2}) {
    if (!fault_signals_ && (signum == SIGUSR1 || signum == SIGUSR2)) break;
    uv_signal_t* h = &signals_[signal_count_++];
    uv_signal_init(&loop_, h);
    h->data = this;
    uv_signal_start(h, &Server::OnSignal, signum);
  }
  if (listening.ok()) {
    Log(absl::StrCat("raft on ", options_.raft_address, ", clients on ",
                     options_.client_address));
    std::fputs("READY\n", stdout);
    std::fflush(stdout);
  } else {
    Log(listening.message());
    Shutdown();
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  node_.reset();
  uv_loop_close(&loop_);
  return listening.ok() ? kExitOk : kExitFailed;
}

void Server::OnSignal(uv_signal_t* handle, int signum) {
  Server* s = static_cast<Server*>(handle->data);
  if (signum == SIGUSR1 || signum == SIGUSR2) {  // --fault-signals
    const bool isolated = signum == SIGUSR1;
    s->Log(isolated ? "SIGUSR1: cut off from the other servers"
                    : "SIGUSR2: reconnected to the other servers");
    if (!s->shutting_down_) s->node_->SetIsolated(isolated);
    return;
  }
  s->Log(absl::StrCat("signal ", signum, ": closing"));
  s->Shutdown();
}

void Server::Shutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  if (listener_.loop != nullptr) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  for (const auto& c : std::vector<std::shared_ptr<Connection>>(connections_)) {
    CloseConnection(c.get());
  }
  node_->Close([this] {
    for (int i = 0; i < signal_count_; ++i) {
      uv_close(reinterpret_cast<uv_handle_t*>(&signals_[i]), nullptr);
    }
  });
}

void Server::OnConnection(uv_stream_t* listener, int status) {
  Server* s = static_cast<Server*>(listener->data);
  if (status != 0 || s->shutting_down_) return;
  auto c = std::make_shared<Connection>();
  c->server = s;
  uv_tcp_init(&s->loop_, &c->tcp);
  c->tcp.data = c.get();
  s->connections_.push_back(c);
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
    s->CloseConnection(c.get());
    return;
  }
  uv_read_start(
      reinterpret_cast<uv_stream_t*>(&c->tcp),
      [](uv_handle_t*, size_t suggested, uv_buf_t* buf) {
        buf->base = new char[suggested];
        buf->len = suggested;
      },
      &Server::OnRead);
}

std::shared_ptr<Connection> Server::Find(Connection* c) {
  for (const auto& owned : connections_) {
    if (owned.get() == c) return owned;
  }
  return nullptr;
}

void Server::OnRead(uv_stream_t* stream, ssize_t n, const uv_buf_t* buf) {
  std::unique_ptr<char[]> data(buf->base);
  Connection* c = static_cast<Connection*>(stream->data);
  Server* s = c->server;
  if (n < 0) {
    s->CloseConnection(c);
    return;
  }
  c->partial.append(buf->base, static_cast<size_t>(n));
  size_t start = 0;
  for (size_t nl; (nl = c->partial.find('\n', start)) != std::string::npos;
       start = nl + 1) {
    c->lines.push_back(c->partial.substr(start, nl - start));
  }
  c->partial.erase(0, start);
  if (c->partial.size() > kMaxRequestBytes) {
    // A line that never ends would hold memory without bound.
    s->Send(c, ErrAnswer(absl::StrCat("request line over ", kMaxRequestBytes,
                                      " bytes; closing the connection")));
    s->CloseConnection(c);
    return;
  }
  s->Pump(s->Find(c));
}

void Server::CloseConnection(Connection* c) {
  if (c->closing) return;
  c->closing = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
    Connection* c = static_cast<Connection*>(h->data);
    std::vector<std::shared_ptr<Connection>>& all = c->server->connections_;
    for (auto it = all.begin(); it != all.end(); ++it) {
      if (it->get() == c) {
        all.erase(it);  // a request still waiting on raft keeps its copy
        break;
      }
    }
  });
}

// Answers the waiting requests in order, stopping at one that waits on raft
// (its answer pumps again).
void Server::Pump(const std::shared_ptr<Connection>& c) {
  while (c != nullptr && !c->closing && !c->busy && !c->lines.empty()) {
    const std::string line = std::move(c->lines.front());
    c->lines.pop_front();
    c->busy = true;
    std::optional<std::string> now = Handle(line, [this, c](std::string a) {
      if (c->closing) return;  // the client left; its answer goes nowhere
      c->busy = false;
      Send(c.get(), std::move(a));
      Pump(c);
    });
    if (now.has_value()) {
      c->busy = false;
      Send(c.get(), *std::move(now));
    }
  }
}

void Server::Send(Connection* c, std::string text) {
  struct Write {
    uv_write_t req;
    std::string text;
  };
  auto* w = new Write{{}, std::move(text)};
  uv_buf_t buf =
      uv_buf_init(w->text.data(), static_cast<unsigned>(w->text.size()));
  w->req.data = w;
  const int rv = uv_write(
      &w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1,
      [](uv_write_t* req, int) { delete static_cast<Write*>(req->data); });
  if (rv != 0) {
    delete w;
    CloseConnection(c);
  }
}

// ---- requests ----

std::optional<std::string> Server::Handle(
    const std::string& line, std::function<void(std::string)> answer) {
  absl::StatusOr<Request> r = ParseRequest(line);
  if (!r.ok()) return ErrAnswer(r.status().message());
  db::WriteBatch batch;
  switch (r->kind) {
    case RequestKind::kPut:
      batch.Put(r->key, r->value);
      return HandleWrite(batch, std::move(answer));
    case RequestKind::kDel:
      batch.Delete(r->key);
      return HandleWrite(batch, std::move(answer));
    case RequestKind::kGet:
      return HandleGet(r->key, std::move(answer));
    case RequestKind::kLocalGet:
      return Lookup(r->key);
    case RequestKind::kStatus:
      return StatusLine();
    case RequestKind::kDump:
      return Dump();
  }
  return ErrAnswer("unknown request");
}

std::string Server::NotLeaderAnswer() {
  const raft::KvNodeStatus st = node_->status();
  const std::string address = node_->LeaderClientAddress();
  if (st.leader == 0 || st.leader == options_.id || address.empty()) {
    return NoLeaderAnswer();
  }
  return RedirectAnswer(st.leader, address);
}

std::optional<std::string> Server::HandleWrite(
    const db::WriteBatch& batch, std::function<void(std::string)> answer) {
  absl::Status s = node_->Write(batch, [answer](const KvOutcome& r) {
    answer(r.kind == KvOutcome::kApplied ? OkAnswer()
                                         : IndeterminateAnswer(r.message));
  });
  if (absl::IsFailedPrecondition(s)) return NotLeaderAnswer();
  if (!s.ok()) return ErrAnswer(s.message());
  return std::nullopt;
}

std::optional<std::string> Server::HandleGet(
    const std::string& key, std::function<void(std::string)> answer) {
  absl::Status s = node_->Barrier([this, key, answer](const KvOutcome& r) {
    // A lost barrier proves nothing: the client asks again, wherever the
    // leader is then.
    answer(r.kind == KvOutcome::kApplied ? Lookup(key) : NoLeaderAnswer());
  });
  if (absl::IsFailedPrecondition(s)) return NotLeaderAnswer();
  if (!s.ok()) return ErrAnswer(s.message());
  return std::nullopt;
}

std::string Server::Lookup(const std::string& key) {
  const std::string* v = node_->fsm().Get(key);
  return v == nullptr ? NotFoundAnswer() : ValueAnswer(*v);
}

std::string Server::StatusLine() {
  const raft::KvNodeStatus st = node_->status();
  ServerStatus out;
  out.id = options_.id;
  // RAFT_UNAVAILABLE (starting or closing) serves as a follower would.
  out.role = st.role == RAFT_LEADER      ? "leader"
             : st.role == RAFT_CANDIDATE ? "candidate"
                                         : "follower";
  out.term = st.term;
  out.applied = st.applied;
  out.commit = st.commit;
  out.last = st.last;
  out.leader = st.leader;
  out.extra = absl::StrCat("malformed=", node_->fsm().malformed(),
                           " restores=", node_->fsm().restores());
  return StatusAnswer(out);
}

std::string Server::Dump() {
  std::string out;
  for (const auto& [key, value] : node_->fsm().table().map()) {
    if (value.has_value()) out += KvAnswer(key, *value);
  }
  absl::StrAppend(&out, EndAnswer(node_->status().applied));
  return out;
}

}  // namespace

int RunServe(const std::vector<std::string>& args) {
  bool fault_signals = false;
  absl::StatusOr<KvNodeOptions> options = ParseServeArgs(args, &fault_signals);
  if (!options.ok()) {
    std::fprintf(stderr, "kv serve: %s\n%s",
                 std::string(options.status().message()).c_str(),
                 std::string(kServeUsage).c_str());
    return kExitUsage;
  }
  Server server(*std::move(options), fault_signals);
  return server.Run();
}

}  // namespace blockwal::tools::kv
