// Fuzz target for the write batch decoder (db/write_batch.h): the input is an
// encoded batch, a WAL record of the KV store.
//
// The input goes to DecodeWriteBatch and WriteBatch::FromContents, and to a
// reference decoder written here from the format comment of db/write_batch.h
// (sequence fixed64, count fixed32, then exactly `count` ops: tag 1 put with
// varint32-length-prefixed key and value, tag 0 delete with a length-prefixed
// key, nothing after the last op; a varint32 is at most 5 bytes and must fit
// 32 bits, util/coding.h). It abort()s when one of these invariants breaks:
//
//   1. DecodeWriteBatch, FromContents and the reference decoder agree on
//      whether the input is a valid batch, and on its ops.
//   2. A rejected batch gives kDataLoss with a message, and the handler sees
//      no op (a damaged batch applies nothing).
//   3. An accepted batch: FromContents keeps the bytes (Contents() == input),
//      Count() and sequence() are the header's, Iterate yields the same ops.
//   4. Re-encoding the decoded ops (WriteBatch::Put/Delete on a new batch with
//      the same sequence) gives a batch that decodes to the same ops. The
//      encoding is canonical except for varint lengths: the decoder, like
//      LevelDB's, accepts over-long varints (0x80 0x00 for 0). So the
//      re-encoding equals the input byte for byte exactly when every varint
//      of the input is minimal, and is shorter otherwise; re-encoding the
//      re-encoding is a fixed point.
//   5. Editing an accepted batch keeps it valid: Put and Delete add one op
//      each, Clear leaves no op and the sequence.
//
// Built with -DBLOCKWAL_LIBFUZZER for libFuzzer; otherwise replay_main.cc
// runs the files named on its command line, and each input's outcome is
// printed.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "blockwal/db/write_batch.h"
#include "tests/fuzz/fuzz_util.h"
#include "blockwal/util/coding.h"

namespace blockwal::db {
namespace {

constexpr char kFuzzTarget[] = "write_batch_fuzzer";

#ifdef BLOCKWAL_LIBFUZZER
constexpr bool kVerbose = false;
#else
constexpr bool kVerbose = true;
#endif

struct Op {
  bool put;
  std::string key;
  std::string value;
  bool operator==(const Op& o) const {
    return put == o.put && key == o.key && value == o.value;
  }
};

class Recorder : public WriteBatch::Handler {
 public:
  void Put(absl::string_view key, absl::string_view value) override {
    ops.push_back(Op{true, std::string(key), std::string(value)});
  }
  void Delete(absl::string_view key) override {
    ops.push_back(Op{false, std::string(key), std::string()});
  }
  std::vector<Op> ops;
};

// The reference decoder's varint32: little-endian base-128, at most 5 bytes,
// value < 2^32. *minimal is cleared for an over-long encoding.
bool RefVarint32(absl::string_view* in, uint32_t* value, bool* minimal) {
  uint64_t v = 0;
  for (size_t i = 0; i < 5; ++i) {
    if (i >= in->size()) return false;
    const uint8_t byte = static_cast<uint8_t>((*in)[i]);
    v |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
    if ((byte & 0x80) == 0) {
      if (v > 0xffffffffu) return false;
      // Minimal: a last byte of 0 is only the whole encoding of 0.
      if (i > 0 && byte == 0) *minimal = false;
      *value = static_cast<uint32_t>(v);
      in->remove_prefix(i + 1);
      return true;
    }
  }
  return false;
}

bool RefBytes(absl::string_view* in, std::string* out, bool* minimal) {
  uint32_t n;
  if (!RefVarint32(in, &n, minimal) || n > in->size()) return false;
  out->assign(in->data(), n);
  in->remove_prefix(n);
  return true;
}

struct RefBatch {
  uint64_t sequence = 0;
  uint32_t count = 0;
  std::vector<Op> ops;
  bool minimal = true;  // every varint is minimal
};

bool RefDecode(absl::string_view in, RefBatch* b) {
  if (in.size() < 12) return false;
  b->sequence = DecodeFixed64(in.data());
  b->count = DecodeFixed32(in.data() + 8);
  in.remove_prefix(12);
  for (uint32_t i = 0; i < b->count; ++i) {
    // Every op takes at least two bytes: a short input cannot hold the rest
    // (and a huge count must not make this loop long).
    if (in.size() < 2) return false;
    const uint8_t tag = static_cast<uint8_t>(in[0]);
    in.remove_prefix(1);
    Op op;
    if (tag == 1) {
      op.put = true;
      if (!RefBytes(&in, &op.key, &b->minimal) ||
          !RefBytes(&in, &op.value, &b->minimal)) {
        return false;
      }
    } else if (tag == 0) {
      op.put = false;
      if (!RefBytes(&in, &op.key, &b->minimal)) return false;
    } else {
      return false;
    }
    b->ops.push_back(std::move(op));
  }
  return in.empty();
}

std::string Encode(uint64_t sequence, const std::vector<Op>& ops) {
  WriteBatch batch;
  batch.set_sequence(sequence);
  for (const Op& op : ops) {
    if (op.put) {
      batch.Put(op.key, op.value);
    } else {
      batch.Delete(op.key);
    }
  }
  FUZZ_CHECK(batch.Count() == ops.size(), batch.Count(), ops.size());
  return std::string(batch.Contents());
}

std::vector<Op> MustDecode(absl::string_view contents) {
  Recorder r;
  absl::Status s = DecodeWriteBatch(contents, &r);
  FUZZ_CHECK(s.ok(), s.code(), contents.size());
  return r.ops;
}

void FuzzOne(absl::string_view data) {
  RefBatch ref;
  const bool ref_ok = RefDecode(data, &ref);
  Recorder decoded;
  const absl::Status s = DecodeWriteBatch(data, &decoded);
  absl::StatusOr<WriteBatch> batch = WriteBatch::FromContents(data);

  // Invariants 1 and 2.
  FUZZ_CHECK(s.ok() == ref_ok, s.code(), ref_ok);
  FUZZ_CHECK(batch.ok() == s.ok(), batch.status().code(), s.code());
  FUZZ_CHECK(DecodeWriteBatch(data, nullptr).ok() == s.ok(), s.code(), 0);
  if (!s.ok()) {
    if (kVerbose) std::fprintf(stderr, "  rejected: %s\n", s.ToString().c_str());
    FUZZ_CHECK(s.code() == absl::StatusCode::kDataLoss, s.code(), 0);
    FUZZ_CHECK(!s.message().empty(), 0, 0);
    FUZZ_CHECK(decoded.ops.empty(), decoded.ops.size(), 0);
    FUZZ_CHECK(batch.status().code() == absl::StatusCode::kDataLoss,
               batch.status().code(), 0);
    return;
  }
  FUZZ_CHECK(decoded.ops == ref.ops, decoded.ops.size(), ref.ops.size());
  if (kVerbose) {
    std::fprintf(stderr, "  accepted: sequence %llu, %zu ops%s\n",
                 static_cast<unsigned long long>(ref.sequence), ref.ops.size(),
                 ref.minimal ? "" : " (over-long varints)");
  }

  // Invariant 3.
  FUZZ_CHECK(batch->Contents() == data, batch->Contents().size(), data.size());
  FUZZ_CHECK(batch->ApproximateSize() == data.size(), batch->ApproximateSize(),
             data.size());
  FUZZ_CHECK(batch->Count() == ref.count, batch->Count(), ref.count);
  FUZZ_CHECK(batch->sequence() == ref.sequence, batch->sequence(), ref.sequence);
  Recorder iterated;
  FUZZ_CHECK(batch->Iterate(&iterated).ok(), 0, 0);
  FUZZ_CHECK(iterated.ops == ref.ops, iterated.ops.size(), ref.ops.size());

  // Invariant 4.
  const std::string encoded = Encode(ref.sequence, ref.ops);
  FUZZ_CHECK(MustDecode(encoded) == ref.ops, encoded.size(), data.size());
  RefBatch again;
  FUZZ_CHECK(RefDecode(encoded, &again) && again.minimal &&
                 again.sequence == ref.sequence,
             encoded.size(), 0);
  if (ref.minimal) {
    FUZZ_CHECK(encoded == data, encoded.size(), data.size());
  } else {
    FUZZ_CHECK(encoded.size() < data.size(), encoded.size(), data.size());
  }
  FUZZ_CHECK(Encode(ref.sequence, MustDecode(encoded)) == encoded,
             encoded.size(), 0);

  // Invariant 5.
  WriteBatch edited = *batch;
  edited.Put("fuzz-key", "fuzz-value");
  edited.Delete(ref.ops.empty() ? absl::string_view("k")
                                : absl::string_view(ref.ops[0].key));
  std::vector<Op> want = ref.ops;
  want.push_back(Op{true, "fuzz-key", "fuzz-value"});
  want.push_back(Op{false, ref.ops.empty() ? "k" : ref.ops[0].key, ""});
  FUZZ_CHECK(edited.Count() == ref.count + 2, edited.Count(), ref.count);
  FUZZ_CHECK(MustDecode(edited.Contents()) == want, want.size(), 0);
  edited.Clear();
  FUZZ_CHECK(edited.Count() == 0, edited.Count(), 0);
  FUZZ_CHECK(edited.sequence() == ref.sequence, edited.sequence(), ref.sequence);
  FUZZ_CHECK(MustDecode(edited.Contents()).empty(), 0, 0);
}

}  // namespace
}  // namespace blockwal::db

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  blockwal::db::FuzzOne(
      absl::string_view(reinterpret_cast<const char*>(data), size));
  return 0;
}
