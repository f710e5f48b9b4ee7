// A consumer's own "wal/log.h" (see util/file_system.h beside it).
#ifndef CONSUMER_WAL_LOG_H_
#define CONSUMER_WAL_LOG_H_
namespace consumer {
inline const char* OwnLog() { return "consumer wal/log.h"; }
}  // namespace consumer
#endif
