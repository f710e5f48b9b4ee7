#include "blockwal/util/backup.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "blockwal/util/status_macros.h"

namespace blockwal {
namespace {

constexpr size_t kCopyChunk = 1 << 20;

// What a backup copies: paths relative to the directory backed up,
// directories before what they hold.
struct Tree {
  std::vector<std::string> dirs;  // subdirectories
  std::vector<std::string> files;
  uint64_t bytes = 0;  // of all files
};

// Adds everything under `root`/`rel` to *tree.
absl::Status Walk(FileSystem* fs, const std::string& root,
                  const std::string& rel, Tree* tree) {
  const std::string dir = rel.empty() ? root : JoinPath(root, rel);
  BW_ASSIGN_OR_RETURN(std::vector<std::string> names, fs->GetChildren(dir));
  for (const std::string& name : names) {
    const std::string child = rel.empty() ? name : JoinPath(rel, name);
    const std::string path = JoinPath(root, child);
    // GetChildren succeeds on directories only: that is the test.
    if (fs->GetChildren(path).ok()) {
      tree->dirs.push_back(child);
      BW_RETURN_IF_ERROR(Walk(fs, root, child, tree));
    } else {
      BW_ASSIGN_OR_RETURN(const uint64_t size, fs->GetFileSize(path));
      tree->files.push_back(child);
      tree->bytes += size;
    }
  }
  return absl::OkStatus();
}

// Copies `from` to a new file `to` and syncs it; adds each chunk's size to
// *done and reports it.
absl::Status CopyFile(FileSystem* fs, const std::string& from,
                      const std::string& to, uint64_t total, uint64_t* done,
                      const BackupProgress& progress) {
  BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> in,
                      fs->NewSequentialFile(from));
  BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> out,
                      fs->NewWritableFile(to));
  std::unique_ptr<char[]> buffer(new char[kCopyChunk]);
  while (true) {
    BW_ASSIGN_OR_RETURN(absl::string_view chunk,
                        in->Read(kCopyChunk, buffer.get()));
    if (chunk.empty()) break;
    BW_RETURN_IF_ERROR(out->Append(chunk));
    *done += chunk.size();
    if (progress) progress(*done, total);
  }
  BW_RETURN_IF_ERROR(out->Sync());
  return out->Close();
}

}  // namespace

std::string BackupDirectoryName(FileSystem* fs, const std::string& dir,
                                absl::Time now) {
  const std::string stamp =
      absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone());
  const std::string base =
      absl::StrCat(NormalizeDir(dir), ".repair-backup-", stamp);
  std::string name = base;
  // A name that cannot be checked counts as taken (CreateDir accepts an
  // existing directory, so a backup must never reuse one).
  for (int n = 2; n < 10000 && fs->FileExists(name).value_or(true); ++n) {
    name = absl::StrCat(base, "-", n);
  }
  return name;
}

absl::StatusOr<std::string> BackUpDirectory(FileSystem* fs,
                                            const std::string& dir,
                                            const BackupProgress& progress) {
  const std::string source = NormalizeDir(dir);
  BW_ASSIGN_OR_RETURN(const bool exists, fs->FileExists(source));
  if (!exists) {
    return absl::NotFoundError(
        absl::StrCat(source, ": directory does not exist"));
  }
  Tree tree;
  BW_RETURN_IF_ERROR(Walk(fs, source, "", &tree));
  const std::string backup = BackupDirectoryName(fs, source, absl::Now());
  BW_RETURN_IF_ERROR(fs->CreateDir(backup));
  for (const std::string& d : tree.dirs) {
    BW_RETURN_IF_ERROR(fs->CreateDir(JoinPath(backup, d)));
  }
  uint64_t done = 0;
  if (progress) progress(0, tree.bytes);
  for (const std::string& f : tree.files) {
    BW_RETURN_IF_ERROR(CopyFile(fs, JoinPath(source, f), JoinPath(backup, f),
                                tree.bytes, &done, progress));
  }
  // The files' entries, then the directories' own, then the backup's.
  for (auto d = tree.dirs.rbegin(); d != tree.dirs.rend(); ++d) {
    BW_RETURN_IF_ERROR(fs->SyncDir(JoinPath(backup, *d)));
  }
  BW_RETURN_IF_ERROR(fs->SyncDir(backup));
  const std::string parent = DirName(backup);
  BW_RETURN_IF_ERROR(fs->SyncDir(parent.empty() ? "." : parent));
  return backup;
}

}  // namespace blockwal
