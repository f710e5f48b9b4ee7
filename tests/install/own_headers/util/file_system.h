// A consumer's own header at a path blockwal's headers once used
// ("util/file_system.h"): first on every consumer's include path, so a
// blockwal header that included "util/..." would get this one and fail.
#ifndef CONSUMER_UTIL_FILE_SYSTEM_H_
#define CONSUMER_UTIL_FILE_SYSTEM_H_
namespace consumer {
inline const char* OwnFileSystem() { return "consumer util/file_system.h"; }
}  // namespace consumer
#endif
