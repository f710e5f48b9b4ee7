// WriteBatch (db/write_batch.h): building a batch's encoding, and walking
// its ops (DecodeWriteBatch checks every byte before it applies any op).
#include "blockwal/db/write_batch.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "blockwal/util/coding.h"

namespace blockwal::db {
namespace {

// Reads an op's key or value (`what`), a varint length and that many bytes,
// from the front of *input into *field: what is wrong with it, or "".
std::string GetField(absl::string_view* input, absl::string_view what,
                     absl::string_view* field) {
  uint32_t length;
  if (!GetVarint32(input, &length)) {
    return absl::StrCat("bad ", what, " length varint");
  }
  if (length > input->size()) {
    return absl::StrCat(what, " length ", length, " runs past the end (",
                        input->size(), " bytes left)");
  }
  *field = input->substr(0, length);
  input->remove_prefix(length);
  return "";
}

// Walks the ops of `contents`; calls handler for each when it is not null.
// Returns kDataLoss at the first malformed byte.
absl::Status WalkOps(absl::string_view contents, WriteBatch::Handler* handler) {
  if (contents.size() < kWriteBatchHeaderSize) {
    return absl::DataLossError(absl::StrCat(
        "write batch too small: ", contents.size(),
        " bytes, the header alone is ", kWriteBatchHeaderSize));
  }
  const uint32_t count = DecodeFixed32(contents.data() + 8);
  absl::string_view input = contents.substr(kWriteBatchHeaderSize);
  for (uint32_t i = 0; i < count; ++i) {
    const size_t op_start = contents.size() - input.size();
    auto error = [&](absl::string_view what) {
      return absl::DataLossError(absl::StrCat("write batch op ", i + 1, " of ",
                                              count, " (byte ", op_start,
                                              "): ", what));
    };
    if (input.empty()) {
      return error(absl::StrCat("missing: the batch ends after ", i, " ops"));
    }
    const uint8_t tag = static_cast<uint8_t>(input[0]);
    input.remove_prefix(1);
    if (tag != static_cast<uint8_t>(BatchOpType::kPut) &&
        tag != static_cast<uint8_t>(BatchOpType::kDelete)) {
      return error(absl::StrCat("unknown tag ", tag));
    }
    absl::string_view key;
    if (std::string e = GetField(&input, "key", &key); !e.empty()) {
      return error(e);
    }
    if (tag == static_cast<uint8_t>(BatchOpType::kDelete)) {
      if (handler != nullptr) handler->Delete(key);
      continue;
    }
    absl::string_view value;
    if (std::string e = GetField(&input, "value", &value); !e.empty()) {
      return error(e);
    }
    if (handler != nullptr) handler->Put(key, value);
  }
  if (!input.empty()) {
    return absl::DataLossError(
        absl::StrCat("write batch has ", input.size(),
                     " bytes after its last op (count ", count, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeWriteBatch(absl::string_view contents,
                              WriteBatch::Handler* handler) {
  // Validate everything first so a damaged batch applies nothing.
  absl::Status s = WalkOps(contents, nullptr);
  if (!s.ok() || handler == nullptr) return s;
  return WalkOps(contents, handler);
}

WriteBatch::WriteBatch() : rep_(kWriteBatchHeaderSize, '\0') {}

absl::StatusOr<WriteBatch> WriteBatch::FromContents(
    absl::string_view contents) {
  absl::Status s = DecodeWriteBatch(contents, nullptr);
  if (!s.ok()) return s;
  WriteBatch batch;
  batch.rep_.assign(contents.data(), contents.size());
  return batch;
}

void WriteBatch::Put(absl::string_view key, absl::string_view value) {
  EncodeFixed32(rep_.data() + 8, Count() + 1);
  rep_.push_back(static_cast<char>(BatchOpType::kPut));
  PutLengthPrefixed(&rep_, key);
  PutLengthPrefixed(&rep_, value);
}

void WriteBatch::Delete(absl::string_view key) {
  EncodeFixed32(rep_.data() + 8, Count() + 1);
  rep_.push_back(static_cast<char>(BatchOpType::kDelete));
  PutLengthPrefixed(&rep_, key);
}

void WriteBatch::Clear() {
  rep_.resize(kWriteBatchHeaderSize);
  EncodeFixed32(rep_.data() + 8, 0);
}

uint32_t WriteBatch::Count() const { return DecodeFixed32(rep_.data() + 8); }

uint64_t WriteBatch::sequence() const { return DecodeFixed64(rep_.data()); }

void WriteBatch::set_sequence(uint64_t sequence) {
  EncodeFixed64(rep_.data(), sequence);
}

absl::Status WriteBatch::Iterate(Handler* handler) const {
  return WalkOps(rep_, handler);
}

}  // namespace blockwal::db
