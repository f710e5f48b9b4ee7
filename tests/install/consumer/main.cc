// Writes two records with the installed headers and library, reads them back,
// and prints them; exits non-zero on any mismatch.
#include <cstdio>
#include <memory>
#include <string>

#include "blockwal/util/file_system.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/block_writer.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer FILE\n");
    return 2;
  }
  blockwal::FileSystem* fs = blockwal::FileSystem::Default();
  {
    auto file = fs->NewWritableFile(argv[1]);
    if (!file.ok()) return 1;
    blockwal::wal::BlockWriter writer(file->get());
    if (!writer.AddRecord("hello").ok() ||
        !writer.AddRecord(std::string(40000, 'x')).ok() || !writer.Sync().ok()) {
      return 1;
    }
    if (!(*file)->Close().ok()) return 1;
  }
  auto file = fs->NewSequentialFile(argv[1]);
  if (!file.ok()) return 1;
  blockwal::wal::BlockReader reader(file->get(), nullptr);
  absl::string_view record;
  std::string scratch;
  int n = 0;
  bool ok = true;
  while (reader.ReadRecord(&record, &scratch)) {
    ok &= (n == 0 ? record == "hello" : record == std::string(40000, 'x'));
    ++n;
  }
  std::printf("consumer read %d records\n", n);
  return ok && n == 2 ? 0 : 1;
}
