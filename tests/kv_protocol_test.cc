// The client protocol's lines (tools/kv_protocol.h): quoting round-trips
// through the shell grammar, every request and answer builds and parses
// back, and malformed answers are refused.
#include "tools/kv_protocol.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"
#include "tools/kv_shell.h"

namespace blockwal::testing {
namespace {

using ::testing::HasSubstr;
using tools::kv::Answer;
using tools::kv::AnswerKind;
using tools::kv::ParseAnswer;
using tools::kv::QuoteWord;

// The words SplitShellLine reads from `line`.
std::vector<std::string> Words(const std::string& line) {
  absl::StatusOr<std::vector<tools::ShellWord>> words =
      tools::SplitShellLine(line);
  EXPECT_TRUE(words.ok()) << line << ": " << words.status();
  std::vector<std::string> out;
  if (words.ok()) {
    for (const tools::ShellWord& w : *words) out.push_back(w.text);
  }
  return out;
}

TEST(KvProtocolTest, QuoteWordIsBareOnlyForPlainPrintableWords) {
  EXPECT_EQ(QuoteWord("abc"), "abc");
  EXPECT_EQ(QuoteWord("a=b:c'd"), "a=b:c'd");
  EXPECT_EQ(QuoteWord(""), "\"\"");
  EXPECT_EQ(QuoteWord("a b"), "\"a b\"");
  EXPECT_EQ(QuoteWord("say \"hi\""), "\"say \\\"hi\\\"\"");
  EXPECT_EQ(QuoteWord("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(QuoteWord(std::string("\n\t\r\0", 4)), "\"\\n\\t\\r\\0\"");
  EXPECT_EQ(QuoteWord("\x01\x7f\x80\xff"), "\"\\x01\\x7f\\x80\\xff\"");
}

TEST(KvProtocolTest, QuoteWordRoundTripsEveryByte) {
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    for (const std::string& word : {one, "a" + one + "b", one + one}) {
      const std::vector<std::string> words = Words("x " + QuoteWord(word));
      ASSERT_EQ(words.size(), 2u) << "byte " << b;
      EXPECT_EQ(words[1], word) << "byte " << b;
    }
  }
}

TEST(KvProtocolTest, QuoteWordRoundTripsRandomWords) {
  std::mt19937 rng(20261207);
  for (int i = 0; i < 2000; ++i) {
    std::vector<std::string> sent(1 + rng() % 4);
    std::string line;
    for (std::string& word : sent) {
      word.resize(rng() % 12);
      for (char& c : word) c = static_cast<char>(rng() % 256);
      if (!line.empty()) line += ' ';
      line += QuoteWord(word);
    }
    EXPECT_EQ(Words(line), sent) << line;
  }
}

TEST(KvProtocolTest, RequestsBuildAndParseBack) {
  using tools::kv::ParseRequest;
  using tools::kv::RequestKind;
  EXPECT_EQ(tools::kv::PutRequest("k 1", ""), "put \"k 1\" \"\"\n");
  EXPECT_EQ(tools::kv::DelRequest("k"), "del k\n");
  EXPECT_EQ(tools::kv::GetRequest("k"), "get k\n");
  EXPECT_EQ(tools::kv::LocalGetRequest("k"), "local_get k\n");
  EXPECT_EQ(tools::kv::StatusRequest(), "status\n");
  EXPECT_EQ(tools::kv::DumpRequest(), "dump\n");
  for (RequestKind kind :
       {RequestKind::kPut, RequestKind::kDel, RequestKind::kGet,
        RequestKind::kLocalGet, RequestKind::kStatus, RequestKind::kDump}) {
    tools::kv::Request r;
    r.kind = kind;
    if (kind != RequestKind::kStatus && kind != RequestKind::kDump) {
      r.key = std::string("k\0\n", 3);
    }
    if (kind == RequestKind::kPut) r.value = "v \"x\"";
    std::string line = tools::kv::FormatRequest(r);
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    ASSERT_OK_AND_ASSIGN(tools::kv::Request back, ParseRequest(line));
    EXPECT_EQ(back.kind, kind);
    EXPECT_EQ(back.key, r.key);
    EXPECT_EQ(back.value, r.value);
  }
  EXPECT_THAT(
      ParseRequest("put k"),
      StatusIs(absl::StatusCode::kInvalidArgument, "usage: put KEY VALUE"));
  EXPECT_THAT(ParseRequest("status x"),
              StatusIs(absl::StatusCode::kInvalidArgument, "usage: status"));
  EXPECT_THAT(ParseRequest("scan"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("unknown request 'scan'")));
  EXPECT_THAT(ParseRequest("get \"k"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "unterminated double quote"));
}

// Builds `line` with the builder, checks it, parses it back.
Answer RoundTrip(const std::string& built, const std::string& want) {
  EXPECT_EQ(built, want);
  absl::StatusOr<Answer> answer =
      ParseAnswer(absl::string_view(built).substr(0, built.size() - 1));
  EXPECT_TRUE(answer.ok()) << built << ": " << answer.status();
  if (!answer.ok()) return Answer();
  EXPECT_EQ(tools::kv::FormatAnswer(*answer), built);
  return *answer;
}

TEST(KvProtocolTest, EveryAnswerKindBuildsAndParses) {
  namespace kv = tools::kv;
  EXPECT_EQ(RoundTrip(kv::OkAnswer(), "OK\n").kind, AnswerKind::kOk);
  Answer a = RoundTrip(kv::ValueAnswer(std::string("\0\xff", 2)),
                       "VALUE \"\\0\\xff\"\n");
  EXPECT_EQ(a.kind, AnswerKind::kValue);
  EXPECT_EQ(a.value, std::string("\0\xff", 2));
  EXPECT_EQ(RoundTrip(kv::NotFoundAnswer(), "NOT_FOUND\n").kind,
            AnswerKind::kNotFound);
  a = RoundTrip(kv::RedirectAnswer(3, "10.0.0.3:7001"),
                "REDIRECT 3 10.0.0.3:7001\n");
  EXPECT_EQ(a.kind, AnswerKind::kRedirect);
  EXPECT_EQ(a.leader_id, 3u);
  EXPECT_EQ(a.address, "10.0.0.3:7001");
  EXPECT_EQ(RoundTrip(kv::NoLeaderAnswer(), "NO_LEADER\n").kind,
            AnswerKind::kNoLeader);
  a = RoundTrip(kv::IndeterminateAnswer("lost leadership"),
                "INDETERMINATE \"lost leadership\"\n");
  EXPECT_EQ(a.kind, AnswerKind::kIndeterminate);
  EXPECT_EQ(a.message, "lost leadership");
  a = RoundTrip(kv::ErrAnswer("bad"), "ERR bad\n");
  EXPECT_EQ(a.kind, AnswerKind::kErr);
  EXPECT_EQ(a.message, "bad");
  kv::ServerStatus s{.id = 2,
                     .role = "follower",
                     .term = 5,
                     .applied = 9,
                     .commit = 10,
                     .last = 11,
                     .leader = 1,
                     .extra = "malformed=0"};
  a = RoundTrip(kv::StatusAnswer(s),
                "id=2 role=follower term=5 applied=9 commit=10 last=11 "
                "leader=1 malformed=0\n");
  EXPECT_EQ(a.kind, AnswerKind::kStatus);
  EXPECT_EQ(a.status.id, 2u);
  EXPECT_EQ(a.status.role, "follower");
  EXPECT_EQ(a.status.term, 5u);
  EXPECT_EQ(a.status.applied, 9u);
  EXPECT_EQ(a.status.commit, 10u);
  EXPECT_EQ(a.status.last, 11u);
  EXPECT_EQ(a.status.leader, 1u);
  EXPECT_EQ(a.status.extra, "malformed=0");
  a = RoundTrip(kv::KvAnswer("k", "two words"), "KV k \"two words\"\n");
  EXPECT_EQ(a.kind, AnswerKind::kKv);
  EXPECT_EQ(a.key, "k");
  EXPECT_EQ(a.value, "two words");
  a = RoundTrip(kv::EndAnswer(42), "END applied=42\n");
  EXPECT_EQ(a.kind, AnswerKind::kEnd);
  EXPECT_EQ(a.applied, 42u);
}

TEST(KvProtocolTest, ErrMessageMayBeSeveralBareWords) {
  ASSERT_OK_AND_ASSIGN(Answer a, ParseAnswer("ERR unknown  command"));
  EXPECT_EQ(a.kind, AnswerKind::kErr);
  EXPECT_EQ(a.message, "unknown  command");
}

TEST(KvProtocolTest, MalformedAnswersAreErrors) {
  const struct {
    const char* line;
    const char* why;
  } kCases[] = {
      {"", "empty line"},
      {"OK extra", "expected OK"},
      {"ok", "unknown answer 'ok'"},
      {"VALUE", "expected VALUE V"},
      {"VALUE a b", "expected VALUE V"},
      {"VALUE \"a", "unterminated double quote"},
      {"NOT_FOUND x", "expected NOT_FOUND"},
      {"NO_LEADER 1", "expected NO_LEADER"},
      {"REDIRECT 1", "expected REDIRECT ID ADDRESS"},
      {"REDIRECT 0 h:1", "the leader's id is not a number above 0"},
      {"REDIRECT x h:1", "the leader's id is not a number above 0"},
      {"REDIRECT 1 h", "'h' is not HOST:PORT"},
      {"REDIRECT 1 h:0", "the port is not 1-65535"},
      {"REDIRECT 1 :80", "bad host"},
      {"ERR", "no message"},
      {"INDETERMINATE", "no message"},
      {"KV k", "expected KV K V"},
      {"END", "expected END applied=I"},
      {"END applied=x", "expected END applied=I"},
      {"END applied=-1", "expected END applied=I"},
      {"id=1 role=leader term=1 applied=1 commit=1 last=1", "a status line"},
      {"id=1 role=boss term=1 applied=1 commit=1 last=1 leader=1",
       "word 2 is not role="},
      {"id=1 role=leader term=1 applied=1 commit=1 leader=1 last=1",
       "word 6 is not last=NUMBER"},
      {"id=1 role=leader term=1 applied=1 commit=1 last=1 leader=1 junk",
       "word 8 is not NAME=VALUE"},
      {"VALUE \\x4", "\\x takes two hex digits"},
  };
  for (const auto& c : kCases) {
    EXPECT_THAT(ParseAnswer(c.line),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.why)))
        << c.line;
  }
  EXPECT_THAT(ParseAnswer("OK x"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "malformed answer 'OK x': expected OK"));
}

TEST(KvProtocolTest, CheckAddress) {
  for (const char* good : {"127.0.0.1:1", "localhost:65535", "[::1]:80"}) {
    EXPECT_OK(tools::kv::CheckAddress(good)) << good;
  }
  for (const char* bad : {"", "host", "host:", "host:65536", "host:+1",
                          "::1:80", "[::1:80", ":80"}) {
    EXPECT_THAT(tools::kv::CheckAddress(bad),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

}  // namespace
}  // namespace blockwal::testing
