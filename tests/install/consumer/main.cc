// Writes two records with blockwal's headers and library, reads them back,
// opens a log and a key-value store through every public header, and exits
// non-zero on any mismatch. It includes headers of its own at the paths
// blockwal's headers once had (own_headers/: util/file_system.h, wal/log.h,
// db/db.h), first on its include path, to show the two never clash.
#include <cstdio>
#include <memory>
#include <string>

#include "blockwal/db/db.h"
#include "blockwal/db/repair.h"
#include "blockwal/db/write_batch.h"
#include "blockwal/util/backup.h"
#include "blockwal/util/fault_injection_file_system.h"
#include "blockwal/util/file_system.h"
#include "blockwal/util/histogram.h"
#include "blockwal/util/mem_file_system.h"
#include "blockwal/wal/block_reader.h"
#include "blockwal/wal/block_writer.h"
#include "blockwal/wal/format.h"
#include "blockwal/wal/log.h"
#include "blockwal/wal/log_inspector.h"
#include "blockwal/wal/log_options.h"
#include "blockwal/wal/record.h"
#include "blockwal/wal/repair.h"
#include "db/db.h"
#include "util/file_system.h"
#include "wal/log.h"

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
  if (!ok || n != 2) return 1;

  // The log and the store, on memory.
  std::unique_ptr<blockwal::FileSystem> mem = blockwal::NewMemFileSystem();
  blockwal::wal::LogOptions log_options;
  log_options.fs = mem.get();
  auto log = blockwal::wal::Log::Open("/log", log_options);
  if (!log.ok() || !(*log)->Append("x").ok()) return 1;
  blockwal::db::Options db_options;
  db_options.fs = mem.get();
  auto store = blockwal::db::DB::Open("/kv", db_options);
  if (!store.ok() || !(*store)->Put("k", "v").ok()) return 1;
  auto value = (*store)->Get("k");
  if (!value.ok() || *value != "v") return 1;
  std::printf("consumer used the log and the store beside %s, %s, %s\n",
              consumer::OwnFileSystem(), consumer::OwnLog(), consumer::OwnDb());
  return 0;
}
