// The grammar of a `kv shell` line: words, double quotes and backslash
// escapes (kShellHelp says it to users; docs/kv.md too).
#ifndef BLOCKWAL_TOOLS_KV_SHELL_H_
#define BLOCKWAL_TOOLS_KV_SHELL_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace blockwal::tools {

inline constexpr absl::string_view kShellHelp =
    R"(Reads commands from standard input, one per line, and answers each on
standard output, flushed after every answer:
  get KEY          the value, or NOT_FOUND
  put KEY VALUE    OK (once durable, as 'kv put')
  del KEY          OK
  scan [PREFIX]    its key<TAB>value lines, then END
  checkpoint       OK
  stats            one line of key=value pairs
  quit, exit       stop (as the end of input does); blank lines are skipped
A command that fails answers ERR <message>, and the shell goes on.

Words are separated by spaces or tabs. Double quotes make one word of what
they hold, spaces included ("k 2"; "" is an empty word). A backslash, inside
quotes or out, takes the next character as it is (\" \\ and \ for a space),
except \n \t \r \0 and \xNN, which stand for those bytes. Single quotes are
ordinary characters. VALUE is the rest of the line after KEY and the spaces
after it, its quotes and escapes decoded and the spaces between its words
kept, so a line without quotes or backslashes means what it always did:
  put k two words      stores "two words" under "k"
  put "k 2" "v 2"      stores "v 2" under "k 2"
  put k "a\tb"         stores a, a tab, b
With --hex, each KEY, VALUE and PREFIX is hex, after unquoting.
)";

// One word of a shell line: its text with quotes and escapes decoded, and
// the bytes [begin, end) of the line it was read from.
struct ShellWord {
  std::string text;
  size_t begin = 0;
  size_t end = 0;
};

// Splits `line` into words by the grammar above. kInvalidArgument for an
// unterminated double quote, a backslash ending the line, or a \x without
// two hex digits.
absl::StatusOr<std::vector<ShellWord>> SplitShellLine(absl::string_view line);

// Decodes `text` as the grammar above decodes one word, except that
// whitespace outside quotes is kept as it is (how VALUE, the rest of a put
// line, is read).
absl::StatusOr<std::string> UnquoteShellText(absl::string_view text);

}  // namespace blockwal::tools

#endif  // BLOCKWAL_TOOLS_KV_SHELL_H_
