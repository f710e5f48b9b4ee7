// A consumer's own "db/db.h" (see util/file_system.h beside it).
#ifndef CONSUMER_DB_DB_H_
#define CONSUMER_DB_DB_H_
namespace consumer {
inline const char* OwnDb() { return "consumer db/db.h"; }
}  // namespace consumer
#endif
