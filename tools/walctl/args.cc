// The command line of a walctl subcommand (args.h).
#include "tools/walctl/args.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "tools/cli.h"
#include "tools/walctl/output.h"
#include "blockwal/util/status_macros.h"

namespace blockwal::tools::walctl {

absl::StatusOr<ParsedArgs> ParseArgs(absl::Span<const std::string> args,
                                     absl::Span<const FlagSpec> specs) {
  ParsedArgs parsed;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || arg.size() < 2 || arg[0] != '-') {
      parsed.positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      continue;
    }
    if (!absl::StartsWith(arg, "--")) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", arg, "'"));
    }
    FlagArg flag = SplitFlagArg(arg);
    const absl::string_view name = flag.name.substr(2);  // without "--"
    const FlagSpec* spec = nullptr;
    for (const FlagSpec& s : specs) {
      if (s.name == name) spec = &s;
    }
    if (spec == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag '", arg, "'"));
    }
    BW_RETURN_IF_ERROR(
        TakeFlagValue(flag.name, spec->takes_value, args, &i, &flag.value));
    parsed.flags[std::string(spec->name)] = flag.value.value_or("");
  }
  return parsed;
}

int UsageError(const Subcommand& self, absl::string_view message) {
  return PrintUsageError(kProgram, absl::StrCat(self.name, ": ", message),
                         absl::StrCat(kProgram, " ", self.name, " --help"));
}

int PrintHelp(const Subcommand& self) {
  Write(stdout, absl::StrCat(self.help, "\n", kExitStatusHelp));
  return FinishOutput(kExitOk);
}

std::optional<int> CheckCommonArgs(const Subcommand& self,
                                   const absl::StatusOr<ParsedArgs>& parsed,
                                   size_t positional,
                                   absl::string_view missing_message) {
  if (!parsed.ok()) return UsageError(self, parsed.status().message());
  if (parsed->help) return PrintHelp(self);
  if (parsed->positional.size() < positional) {
    return UsageError(self, missing_message);
  }
  if (parsed->positional.size() > positional) {
    return UsageError(self, absl::StrCat("unexpected argument '",
                                         parsed->positional[positional], "'"));
  }
  return std::nullopt;
}

std::optional<int> ParseDirArgs(const Subcommand& self,
                                absl::Span<const std::string> args,
                                absl::Span<const FlagSpec> specs,
                                ParsedArgs* parsed) {
  absl::StatusOr<ParsedArgs> result = ParseArgs(args, specs);
  if (std::optional<int> done =
          CheckCommonArgs(self, result, 1, "missing DIR")) {
    return done;
  }
  *parsed = *std::move(result);
  return std::nullopt;
}

bool ParseOffset(absl::string_view text, uint64_t* offset) {
  return !text.empty() && text[0] != '+' && text[0] != '-' &&
         absl::SimpleAtoi(text, offset);
}

bool CheckLogDirectory(const std::string& dir, bool create) {
  if (std::optional<std::string> why = CheckDirectoryArgument(dir, create)) {
    PrintError(*why);
    return false;
  }
  return true;
}

}  // namespace blockwal::tools::walctl
