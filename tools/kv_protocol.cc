// The client protocol's lines: quoting, requests and answers
// (kv_protocol.h).
#include "tools/kv_protocol.h"

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "tools/kv_shell.h"

namespace blockwal::tools::kv {
namespace {

bool IsPrintable(unsigned char c) { return c >= 0x20 && c < 0x7f; }

bool IsBare(absl::string_view word) {
  if (word.empty()) return false;
  for (unsigned char c : word) {
    if (!IsPrintable(c) || c == ' ' || c == '"' || c == '\\') return false;
  }
  return true;
}

// A line of words, each quoted, separated by one space, ending in '\n'.
std::string Line(std::initializer_list<absl::string_view> words) {
  std::string line;
  for (absl::string_view word : words) {
    if (!line.empty()) line.push_back(' ');
    line += QuoteWord(word);
  }
  line.push_back('\n');
  return line;
}

absl::Status Malformed(absl::string_view line, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("malformed answer '", line, "': ", why));
}

bool ParseU64(absl::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return absl::SimpleAtoi(text, out);
}

// NAME=VALUE with VALUE a decimal u64.
bool ParseFigure(absl::string_view word, absl::string_view name,
                 uint64_t* out) {
  return absl::ConsumePrefix(&word, name) && absl::ConsumePrefix(&word, "=") &&
         ParseU64(word, out);
}

constexpr absl::string_view kFigureNames[] = {
    "id", "role", "term", "applied", "commit", "last", "leader"};

absl::StatusOr<ServerStatus> ParseStatus(absl::string_view line,
                                         const std::vector<ShellWord>& words) {
  if (words.size() < 7) {
    return Malformed(line,
                     "a status line has id, role, term, applied, "
                     "commit, last and leader");
  }
  ServerStatus s;
  uint64_t* figures[] = {&s.id,     nullptr, &s.term,  &s.applied,
                         &s.commit, &s.last, &s.leader};
  for (size_t i = 0; i < 7; ++i) {
    absl::string_view word = words[i].text;
    if (i == 1) {
      if (!absl::ConsumePrefix(&word, "role=") ||
          (word != "leader" && word != "follower" && word != "candidate")) {
        return Malformed(line, absl::StrCat("word ", i + 1,
                                            " is not role=leader"
                                            "|follower|candidate"));
      }
      s.role = std::string(word);
    } else if (!ParseFigure(word, kFigureNames[i], figures[i])) {
      return Malformed(line, absl::StrCat("word ", i + 1, " is not ",
                                          kFigureNames[i], "=NUMBER"));
    }
  }
  std::vector<std::string> extra;
  for (size_t i = 7; i < words.size(); ++i) {
    if (words[i].text.find('=') == std::string::npos) {
      return Malformed(line,
                       absl::StrCat("word ", i + 1, " is not NAME=VALUE"));
    }
    extra.push_back(QuoteWord(words[i].text));
  }
  s.extra = absl::StrJoin(extra, " ");
  return s;
}

// The answers whose words after the first are fixed in number.
absl::Status ParseFixedAnswer(absl::string_view line,
                              const std::vector<ShellWord>& words,
                              Answer* answer) {
  const std::string& first = words[0].text;
  const size_t n = words.size();
  auto count = [&](size_t want, absl::string_view usage) {
    return n == want ? absl::OkStatus()
                     : Malformed(line, absl::StrCat("expected ", usage));
  };
  absl::Status s;
  if (first == "OK" || first == "NOT_FOUND" || first == "NO_LEADER") {
    answer->kind = first == "OK"          ? AnswerKind::kOk
                   : first == "NOT_FOUND" ? AnswerKind::kNotFound
                                          : AnswerKind::kNoLeader;
    return count(1, first);
  }
  if (first == "VALUE") {
    answer->kind = AnswerKind::kValue;
    if (s = count(2, "VALUE V"); s.ok()) answer->value = words[1].text;
    return s;
  }
  if (first == "KV") {
    answer->kind = AnswerKind::kKv;
    if (s = count(3, "KV K V"); !s.ok()) return s;
    answer->key = words[1].text;
    answer->value = words[2].text;
    return s;
  }
  if (first == "END") {
    answer->kind = AnswerKind::kEnd;
    if (s = count(2, "END applied=I"); !s.ok()) return s;
    if (!ParseFigure(words[1].text, "applied", &answer->applied)) {
      return Malformed(line, "expected END applied=I");
    }
    return s;
  }
  if (first == "REDIRECT") {
    answer->kind = AnswerKind::kRedirect;
    if (s = count(3, "REDIRECT ID ADDRESS"); !s.ok()) return s;
    if (!ParseU64(words[1].text, &answer->leader_id) ||
        answer->leader_id == 0) {
      return Malformed(line, "the leader's id is not a number above 0");
    }
    answer->address = words[2].text;
    if (s = CheckAddress(answer->address); !s.ok()) {
      return Malformed(line, s.message());
    }
    return s;
  }
  return Malformed(line, absl::StrCat("unknown answer '", first, "'"));
}

}  // namespace

std::string QuoteWord(absl::string_view word) {
  if (IsBare(word)) return std::string(word);
  // The bytes with a letter escape, and their letters.
  constexpr absl::string_view kEscaped("\"\\\n\t\r\0", 6);
  constexpr absl::string_view kLetters = "\"\\ntr0";
  std::string out = "\"";
  for (unsigned char c : word) {
    if (const size_t e = kEscaped.find(static_cast<char>(c));
        e != absl::string_view::npos) {
      out.push_back('\\');
      out.push_back(kLetters[e]);
    } else if (IsPrintable(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, absl::StrFormat("\\x%02x", c));
    }
  }
  out.push_back('"');
  return out;
}

// ---- requests ----

absl::string_view RequestName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kPut:
      return "put";
    case RequestKind::kDel:
      return "del";
    case RequestKind::kGet:
      return "get";
    case RequestKind::kLocalGet:
      return "local_get";
    case RequestKind::kStatus:
      return "status";
    case RequestKind::kDump:
      return "dump";
  }
  return "";
}

bool IsWrite(RequestKind kind) {
  return kind == RequestKind::kPut || kind == RequestKind::kDel;
}

std::string PutRequest(absl::string_view key, absl::string_view value) {
  return Line({"put", key, value});
}
std::string DelRequest(absl::string_view key) { return Line({"del", key}); }
std::string GetRequest(absl::string_view key) { return Line({"get", key}); }
std::string LocalGetRequest(absl::string_view key) {
  return Line({"local_get", key});
}
std::string StatusRequest() { return "status\n"; }
std::string DumpRequest() { return "dump\n"; }

std::string FormatRequest(const Request& r) {
  switch (r.kind) {
    case RequestKind::kPut:
      return PutRequest(r.key, r.value);
    case RequestKind::kStatus:
      return StatusRequest();
    case RequestKind::kDump:
      return DumpRequest();
    default:
      return Line({RequestName(r.kind), r.key});
  }
}

absl::StatusOr<Request> ParseRequest(absl::string_view line) {
  absl::StatusOr<std::vector<ShellWord>> words = SplitShellLine(line);
  if (!words.ok()) return words.status();
  if (words->empty()) return absl::InvalidArgumentError("empty request");
  const std::string& first = (*words)[0].text;
  for (RequestKind kind :
       {RequestKind::kPut, RequestKind::kDel, RequestKind::kGet,
        RequestKind::kLocalGet, RequestKind::kStatus, RequestKind::kDump}) {
    if (first != RequestName(kind)) continue;
    const size_t want =
        kind == RequestKind::kPut                                    ? 3
        : kind == RequestKind::kStatus || kind == RequestKind::kDump ? 1
                                                                     : 2;
    if (words->size() != want) {
      return absl::InvalidArgumentError(absl::StrCat(
          "usage: ", first, want > 1 ? " KEY" : "", want > 2 ? " VALUE" : ""));
    }
    Request r;
    r.kind = kind;
    if (want > 1) r.key = (*words)[1].text;
    if (want > 2) r.value = (*words)[2].text;
    return r;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown request '", first,
                   "' (requests: put del get local_get status dump)"));
}

// ---- answers ----

std::string OkAnswer() { return "OK\n"; }
std::string ValueAnswer(absl::string_view v) { return Line({"VALUE", v}); }
std::string NotFoundAnswer() { return "NOT_FOUND\n"; }
std::string RedirectAnswer(uint64_t leader_id, absl::string_view address) {
  return Line({"REDIRECT", absl::StrCat(leader_id), address});
}
std::string NoLeaderAnswer() { return "NO_LEADER\n"; }
std::string IndeterminateAnswer(absl::string_view message) {
  return Line({"INDETERMINATE", message});
}
std::string ErrAnswer(absl::string_view message) {
  return Line({"ERR", message});
}
std::string StatusAnswer(const ServerStatus& s) {
  return absl::StrCat("id=", s.id, " role=", s.role, " term=", s.term,
                      " applied=", s.applied, " commit=", s.commit,
                      " last=", s.last, " leader=", s.leader,
                      s.extra.empty() ? "" : " ", s.extra, "\n");
}
std::string KvAnswer(absl::string_view key, absl::string_view value) {
  return Line({"KV", key, value});
}
std::string EndAnswer(uint64_t applied) {
  return absl::StrCat("END applied=", applied, "\n");
}

std::string FormatAnswer(const Answer& a) {
  switch (a.kind) {
    case AnswerKind::kOk:
      return OkAnswer();
    case AnswerKind::kValue:
      return ValueAnswer(a.value);
    case AnswerKind::kNotFound:
      return NotFoundAnswer();
    case AnswerKind::kRedirect:
      return RedirectAnswer(a.leader_id, a.address);
    case AnswerKind::kNoLeader:
      return NoLeaderAnswer();
    case AnswerKind::kIndeterminate:
      return IndeterminateAnswer(a.message);
    case AnswerKind::kErr:
      return ErrAnswer(a.message);
    case AnswerKind::kStatus:
      return StatusAnswer(a.status);
    case AnswerKind::kKv:
      return KvAnswer(a.key, a.value);
    case AnswerKind::kEnd:
      return EndAnswer(a.applied);
  }
  return "";
}

absl::StatusOr<Answer> ParseAnswer(absl::string_view line) {
  absl::StatusOr<std::vector<ShellWord>> words = SplitShellLine(line);
  if (!words.ok()) return Malformed(line, words.status().message());
  if (words->empty()) return Malformed(line, "empty line");
  Answer answer;
  const std::string& first = (*words)[0].text;
  if (first == "ERR" || first == "INDETERMINATE") {
    answer.kind =
        first == "ERR" ? AnswerKind::kErr : AnswerKind::kIndeterminate;
    if (words->size() < 2) return Malformed(line, "no message");
    absl::StatusOr<std::string> message = ShellRest(line, *words, 1);
    if (!message.ok()) return Malformed(line, message.status().message());
    answer.message = *std::move(message);
    return answer;
  }
  if (absl::StartsWith(first, "id=")) {
    absl::StatusOr<ServerStatus> status = ParseStatus(line, *words);
    if (!status.ok()) return status.status();
    answer.kind = AnswerKind::kStatus;
    answer.status = *std::move(status);
    return answer;
  }
  if (absl::Status s = ParseFixedAnswer(line, *words, &answer); !s.ok()) {
    return s;
  }
  return answer;
}

absl::Status CheckAddress(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is not HOST:PORT"));
  }
  absl::string_view host = address.substr(0, colon);
  const absl::string_view port = address.substr(colon + 1);
  if (absl::ConsumePrefix(&host, "[") && !absl::ConsumeSuffix(&host, "]")) {
    host = "";
  }
  uint64_t port_number = 0;
  if (host.empty() ||
      (host.find(':') != absl::string_view::npos && address.front() != '[')) {
    return absl::InvalidArgumentError(
        absl::StrCat("'", address, "' is not HOST:PORT: bad host"));
  }
  if (!ParseU64(port, &port_number) || port_number == 0 ||
      port_number > 65535) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", address, "' is not HOST:PORT: the port is not 1-65535"));
  }
  return absl::OkStatus();
}

}  // namespace blockwal::tools::kv
