// blockwal's raft configuration encoding and the conversions to and from
// libraft's struct (raft/configuration_codec.h).
#include "blockwal/raft/configuration_codec.h"

#include "absl/strings/str_cat.h"
#include "blockwal/util/coding.h"

namespace blockwal::raft {

namespace {

constexpr uint8_t kConfigurationFormat = 1;

bool IsValidRole(int role) {
  return role == RAFT_STANDBY || role == RAFT_VOTER || role == RAFT_SPARE;
}

// Decodes server number `i` (1-based in messages) of `n` from the front of
// *input.
absl::StatusOr<Server> DecodeServer(absl::string_view* input, uint32_t i,
                                    uint32_t n, absl::string_view where) {
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(absl::StrCat(
        where, ": raft configuration: server ", i, " of ", n, " ", what));
  };
  Server s;
  absl::string_view address;
  if (!GetFixed64(input, &s.id) || input->empty()) return bad("is cut short");
  s.role = static_cast<unsigned char>((*input)[0]);
  input->remove_prefix(1);
  if (!GetLengthPrefixed(input, &address)) return bad("is cut short");
  if (s.id == 0) return bad("has id 0");
  if (!IsValidRole(s.role))
    return bad(absl::StrCat("has unknown role ", s.role));
  s.address = std::string(address);
  return s;
}

}  // namespace

std::string EncodeConfiguration(const Configuration& conf) {
  std::string out(1, static_cast<char>(kConfigurationFormat));
  PutVarint32(&out, static_cast<uint32_t>(conf.size()));
  for (const Server& s : conf) {
    PutFixed64(&out, s.id);
    out.push_back(static_cast<char>(s.role));
    PutLengthPrefixed(&out, s.address);
  }
  return out;
}

absl::StatusOr<Configuration> DecodeConfiguration(absl::string_view encoded,
                                                  absl::string_view where) {
  absl::string_view input = encoded;
  auto bad = [&](absl::string_view what) {
    return absl::DataLossError(
        absl::StrCat(where, ": raft configuration: ", what));
  };
  if (input.empty()) return bad("empty");
  const uint8_t format = static_cast<unsigned char>(input[0]);
  if (format != kConfigurationFormat) {
    return bad(absl::StrCat("unknown format ", format));
  }
  input.remove_prefix(1);
  uint32_t n = 0;
  if (!GetVarint32(&input, &n)) return bad("server count is cut short");
  Configuration conf;
  for (uint32_t i = 1; i <= n; ++i) {
    absl::StatusOr<Server> s = DecodeServer(&input, i, n, where);
    if (!s.ok()) return s.status();
    conf.push_back(*std::move(s));
  }
  if (!input.empty()) {
    return bad(absl::StrCat(input.size(), " trailing bytes"));
  }
  return conf;
}

Configuration FromRaftConfiguration(const struct raft_configuration& conf) {
  Configuration out;
  out.reserve(conf.n);
  for (unsigned i = 0; i < conf.n; ++i) {
    const struct raft_server& s = conf.servers[i];
    out.push_back({s.id, s.address == nullptr ? "" : s.address, s.role});
  }
  return out;
}

absl::Status ToRaftConfiguration(const Configuration& conf,
                                 struct raft_configuration* out) {
  for (size_t i = 0; i < conf.size(); ++i) {
    const Server& s = conf[i];
    const int rv = raft_configuration_add(out, s.id, s.address.c_str(), s.role);
    if (rv == 0) continue;
    raft_configuration_close(out);
    raft_configuration_init(out);
    const std::string what =
        absl::StrCat("raft configuration: server ", i + 1, " (id ", s.id,
                     ", address \"", s.address, "\"): ", raft_strerror(rv));
    return rv == RAFT_NOMEM ? absl::ResourceExhaustedError(what)
                            : absl::InvalidArgumentError(what);
  }
  return absl::OkStatus();
}

}  // namespace blockwal::raft
