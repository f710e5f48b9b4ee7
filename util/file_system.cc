#include "blockwal/util/file_system.h"

#include <atomic>

#include <algorithm>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/util/posix_file_system.h"
#include "blockwal/util/status_macros.h"

namespace blockwal {

FileSystem* FileSystem::Default() {
  // Leaked on purpose: files and locks may be destroyed during static
  // destruction, after a destroyed file system would be gone.
  static FileSystem* const fs = NewPosixFileSystem().release();
  return fs;
}

namespace {

// AppendingReadFile over any RandomAccessFile: clips reads to the readable
// size.
class ClippedReadFile final : public AppendingReadFile {
 public:
  explicit ClippedReadFile(std::unique_ptr<RandomAccessFile> file)
      : file_(std::move(file)) {}

  absl::StatusOr<absl::string_view> Read(uint64_t offset, size_t n,
                                         char* scratch) const override {
    n = ReadableAt(offset, n);
    if (n == 0) return absl::string_view(scratch, 0);
    return file_->Read(offset, n, scratch);
  }
  const std::string& path() const override { return file_->path(); }

 private:
  const std::unique_ptr<RandomAccessFile> file_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<AppendingReadFile>>
FileSystem::NewAppendingReadFile(const std::string& path,
                                 uint64_t reserve_bytes) {
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> file =
      NewRandomAccessFile(path);
  if (!file.ok()) return file.status();
  return std::unique_ptr<AppendingReadFile>(
      new ClippedReadFile(std::move(*file)));
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string NormalizeDir(const std::string& dir) {
  std::string d = dir;
  while (d.size() > 1 && d.back() == '/') d.pop_back();
  return d;
}

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  if (dir.empty()) return std::string(name);
  if (dir.back() == '/') return absl::StrCat(dir, name);
  return absl::StrCat(dir, "/", name);
}

absl::StatusOr<std::string> ReadFileToString(FileSystem* fs,
                                             const std::string& path) {
  BW_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file,
                      fs->NewSequentialFile(path));
  constexpr size_t kChunk = 64 * 1024;
  std::unique_ptr<char[]> scratch(new char[kChunk]);
  std::string contents;
  while (true) {
    BW_ASSIGN_OR_RETURN(absl::string_view chunk,
                        file->Read(kChunk, scratch.get()));
    if (chunk.empty()) break;
    contents.append(chunk.data(), chunk.size());
  }
  return contents;
}

absl::Status WriteStringToFile(FileSystem* fs, absl::string_view data,
                               const std::string& path, bool sync) {
  BW_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                      fs->NewWritableFile(path));
  BW_RETURN_IF_ERROR(file->Append(data));
  if (sync) BW_RETURN_IF_ERROR(file->Sync());
  return file->Close();
}

}  // namespace blockwal
