#include "tools/kv_shell.h"

#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tools/cli.h"

namespace blockwal::tools {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = absl::ascii_tolower(static_cast<unsigned char>(c));
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Decodes the escape whose backslash is at text[*i]; leaves *i on its last
// character.
absl::Status DecodeEscape(absl::string_view text, size_t* i, std::string* out) {
  if (*i + 1 == text.size()) {
    return absl::InvalidArgumentError("a backslash ends the line");
  }
  const char c = text[++*i];
  switch (c) {
    case 'n': out->push_back('\n'); return absl::OkStatus();
    case 't': out->push_back('\t'); return absl::OkStatus();
    case 'r': out->push_back('\r'); return absl::OkStatus();
    case '0': out->push_back('\0'); return absl::OkStatus();
    case 'x': {
      const int hi = *i + 1 < text.size() ? HexDigit(text[*i + 1]) : -1;
      const int lo = *i + 2 < text.size() ? HexDigit(text[*i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad escape '", text.substr(*i - 1, 4), "': \\x takes two hex digits"));
      }
      out->push_back(static_cast<char>(hi * 16 + lo));
      *i += 2;
      return absl::OkStatus();
    }
    default:
      out->push_back(c);
      return absl::OkStatus();
  }
}

// The one scanner behind both functions: with `split`, unquoted whitespace
// ends a word; without, it is kept and everything is one word.
absl::StatusOr<std::vector<ShellWord>> Scan(absl::string_view text, bool split) {
  std::vector<ShellWord> words;
  bool in_word = false;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (!quoted && split && IsSpace(c)) {
      if (in_word) words.back().end = i;
      in_word = false;
      continue;
    }
    if (!in_word) {
      words.push_back(ShellWord{"", i, text.size()});
      in_word = true;
    }
    std::string& out = words.back().text;
    if (c == '"') {
      quoted = !quoted;
    } else if (c == '\\') {
      if (absl::Status s = DecodeEscape(text, &i, &out); !s.ok()) return s;
    } else {
      out.push_back(c);
    }
  }
  if (quoted) return absl::InvalidArgumentError("unterminated double quote");
  return words;
}

}  // namespace

absl::StatusOr<std::vector<ShellWord>> SplitShellLine(absl::string_view line) {
  return Scan(line, /*split=*/true);
}

absl::StatusOr<std::string> UnquoteShellText(absl::string_view text) {
  absl::StatusOr<std::vector<ShellWord>> words = Scan(text, /*split=*/false);
  if (!words.ok()) return words.status();
  return words->empty() ? std::string() : std::move(words->front().text);
}

absl::StatusOr<std::string> ShellRest(absl::string_view line,
                                      const std::vector<ShellWord>& words,
                                      size_t first) {
  const size_t begin = words[first].begin;
  return UnquoteShellText(line.substr(begin, words.back().end - begin));
}

absl::StatusOr<std::string> DecodeKvArg(bool hex, absl::string_view arg,
                                        absl::string_view what) {
  if (!hex) return std::string(arg);
  if (arg.size() % 2 != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " '", arg, "' is not hex: odd number of digits"));
  }
  for (char c : arg) {
    if (HexDigit(c) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " '", arg, "' is not hex: bad digit '",
                       std::string(1, c), "'"));
    }
  }
  return absl::HexStringToBytes(arg);
}

int RunShellLoop(
    absl::string_view program,
    absl::FunctionRef<std::optional<std::string>(absl::string_view line)> run) {
  std::string line;
  while (std::getline(std::cin, line)) {
    const absl::string_view trimmed = absl::StripAsciiWhitespace(line);
    if (trimmed == "quit" || trimmed == "exit") break;
    const std::optional<std::string> answer = run(line);
    if (!answer.has_value()) continue;
    std::fwrite(answer->data(), 1, answer->size(), stdout);
    if (!FlushStandardOutput()) return PrintOutputError(program);
  }
  if (std::cin.bad()) {
    PrintError(program, "error reading standard input");
    return kExitFailed;
  }
  return kExitOk;
}

std::string EncodeKvOut(bool hex, absl::string_view bytes) {
  return hex ? absl::BytesToHexString(bytes) : std::string(bytes);
}

}  // namespace blockwal::tools
