// The grammar of a `kv shell` line: words, double quotes and backslash
// escapes (kShellHelp says it to users; docs/kv.md too).
#ifndef BLOCKWAL_TOOLS_KV_SHELL_H_
#define BLOCKWAL_TOOLS_KV_SHELL_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
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

// The rest of `line` from words[first] to the end of the last word, decoded
// by UnquoteShellText (how VALUE is read). words[first] must exist.
absl::StatusOr<std::string> ShellRest(absl::string_view line,
                                      const std::vector<ShellWord>& words,
                                      size_t first);

// A key, value or prefix as kv takes it (on the command line or a shell
// line): the bytes themselves, or with `hex` their hex digits. `what`
// names it in the error: "key '0g' is not hex: bad digit 'g'".
absl::StatusOr<std::string> DecodeKvArg(bool hex, absl::string_view arg,
                                        absl::string_view what);

// The shell's loop: reads standard input line by line until its end or a
// line that is "quit" or "exit" (spaces around it allowed), passes each
// line to `run` and writes its answer (nullopt: nothing) to stdout, flushed
// at once. Returns kExitOk, or kExitFailed after printing
// "PROGRAM: error reading standard input" or the error writing stdout.
int RunShellLoop(
    absl::string_view program,
    absl::FunctionRef<std::optional<std::string>(absl::string_view line)> run);

// Bytes as kv prints keys and values: as they are, or with `hex` in
// lowercase hex.
std::string EncodeKvOut(bool hex, absl::string_view bytes);

}  // namespace blockwal::tools

#endif  // BLOCKWAL_TOOLS_KV_SHELL_H_
