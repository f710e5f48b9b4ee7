#!/usr/bin/env python3
"""Writes the seed corpus of log_open_fuzzer: log directories in its input format.

    tests/fuzz/make_log_open_corpus.py tests/fuzz/corpus/log_open

Each seed is the fuzzer's container (see the top of log_open_fuzzer.cc and
docs/fuzzing.md): an options byte, then files as (kind, [base varint], length
varint, bytes). The segment files are encoded here from the spec
(docs/format.md: block framing, the record envelope, 12-byte index entries;
truncation intents of wal/log.h), independently of the C++ writer. Output is
deterministic; rerunning rewrites the same bytes. The replay program prints
what each mode made of each seed:

    build/tests/fuzz/log_open_fuzz_replay tests/fuzz/corpus/log_open
"""
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from make_block_reader_corpus import (BLOCK_SIZE, FULL, HEADER_SIZE, Log, crc32c,
                                      fragment, mask, varint, write_corpus)

# File kinds of the container (log_open_fuzzer.cc).
STORE, INDEX, LOCK, PREFIX, SUFFIX, LAST_TRUNCATION = 0, 1, 2, 3, 4, 5
PREFIX_TMP, SUFFIX_TMP, STORE_TMP, INDEX_TMP, STRAY, STORE_BAK = 6, 7, 8, 9, 10, 11
RESET, RESET_TMP = 12, 13
WITH_BASE = {STORE, INDEX, STORE_TMP, INDEX_TMP, STORE_BAK}
# Added to a kind: the fuzzer fixes the file's checksums (stores, truncation
# files), so its mutations of record contents are not all CRC failures.
FIX = 0x80

# Options byte bits (log_open_fuzzer.cc).
STORE_200 = 0x02       # max_store_bytes 200
INDEX_36 = 0x08        # max_index_bytes 36 (3 entries)
EVERY_APPEND = 0x10    # SyncPolicy::kEveryAppend
INITIAL_2_40 = 0x60    # initial_offset 2^40
BIG_VALUE = 0x80       # the fuzzer appends a 33000-byte value
INDEX_BYTES = 4096     # max_index_bytes with options bits 2-3 clear

# Record envelope (wal/record.h): offset u64, timestamp u64, flags u8.
ENVELOPE_SIZE = 17
SYNC, CONTINUES = 0x01, 0x02


def intent(value):
    """A truncation file: u64 value, masked CRC32C of those 8 bytes."""
    data = struct.pack("<Q", value)
    return data + struct.pack("<I", mask(crc32c(data)))


class Segment:
    """A store and its index, records in the envelope of wal/record.h."""

    def __init__(self, base):
        self.base = base
        self.log = Log()
        self.positions = []

    def add(self, value, flags=0, ts=None):
        offset = self.base + len(self.positions)
        pos = len(self.log.data)
        if BLOCK_SIZE - pos % BLOCK_SIZE < HEADER_SIZE:
            pos += BLOCK_SIZE - pos % BLOCK_SIZE  # the writer pads the trailer
        self.positions.append(pos)
        ts = 1000 + offset % 2**32 if ts is None else ts
        self.log.add(struct.pack("<QQB", offset, ts, flags) + value)
        return self

    def store(self):
        return bytes(self.log.data)

    def index(self, size=None):
        """Sealed (entries only), or grown to `size` bytes of zeros as an
        active segment's index is (size rounded down to whole entries)."""
        data = b"".join(struct.pack("<IQ", i, p) for i, p in enumerate(self.positions))
        if size is not None:
            data += b"\0" * (size - size % 12 - len(data))
        return data

    def files(self, index=True, index_size=None, fix=True):
        out = [(STORE | (FIX if fix else 0), self.base, self.store())]
        if index:
            out.append((INDEX, self.base, self.index(index_size)))
        return out


def records(base, n, last_flags=SYNC):
    seg = Segment(base)
    for i in range(n):
        seg.add(b"record-%d" % (base + i), last_flags if i == n - 1 else 0)
    return seg


def directory(options, files):
    out = bytearray([options])
    for kind, base, data in files:
        out.append(kind)
        if kind & 0x7F in WITH_BASE:
            out += varint(base)
        out += varint(len(data)) + data
    return bytes(out)


def corrupt(data, pos):
    data = bytearray(data)
    data[pos] ^= 0x40
    return bytes(data)


def seeds():
    out = {}
    # A new log: options pick every-append syncing and initial offset 2^40.
    out["empty_dir"] = directory(EVERY_APPEND | INITIAL_2_40, [])

    seg = records(0, 5)
    out["clean_one_segment"] = directory(0, seg.files() + [(LOCK, None, b"")])

    # Killed after a roll: the old segment sealed, the active one's index
    # still full-size with zeros after its entries.
    out["killed_two_segments"] = directory(
        0, records(0, 3).files() + records(3, 2).files(index_size=INDEX_BYTES))

    # Power loss: the index reached the disk, the end of the store did not.
    seg = records(0, 4)
    out["torn_tail_index_ahead"] = directory(0, [
        (STORE, 0, seg.store()[:-5]), (INDEX, 0, seg.index(INDEX_BYTES))])

    # Record 1 damaged. A checksum mismatch drops the rest of its block, so
    # record 1 fills block 0 and record 2 starts block 1, where recovery sees
    # it: with the sync marker it proves the damage hit acknowledged data
    # (point-in-time refuses, skip mode skips record 1); without, the damage
    # is a torn tail (point-in-time cuts it, tolerate-tail refuses: a valid
    # record follows).
    fill = BLOCK_SIZE - 2 * HEADER_SIZE - 2 * ENVELOPE_SIZE - len(b"synced")
    for name, flags in [("damage_then_synced", SYNC), ("damage_then_unsynced", 0)]:
        seg = Segment(0).add(b"synced", SYNC).add(b"d" * fill).add(b"next", flags)
        assert seg.positions[2] == BLOCK_SIZE
        out[name] = directory(0, [
            (STORE, 0, corrupt(seg.store(), seg.positions[1] + HEADER_SIZE + 20)),
            (INDEX, 0, seg.index()[:12])])

    # The store ends inside a batch (its records all say more follow).
    seg = Segment(0).add(b"whole", SYNC).add(b"batch-a", CONTINUES).add(
        b"batch-b", CONTINUES)
    out["batch_cut_off"] = directory(0, seg.files(index_size=INDEX_BYTES))

    # TruncatePrefix(2) died after its intent: segment 0 must go.
    out["prefix_intent"] = directory(
        0, records(0, 2).files() + records(2, 2).files() + records(4, 1).files()
        + [(PREFIX | FIX, None, intent(2))])

    # TruncateSuffix died after its intent: offsets 3 and 4 must go; record 2
    # ends the log whole although it continues a batch.
    seg = Segment(0).add(b"a", SYNC).add(b"b").add(b"batch-1", CONTINUES).add(
        b"batch-2", SYNC).add(b"e", SYNC)
    out["suffix_intent"] = directory(
        0, seg.files() + [(SUFFIX | FIX, None, intent(3)),
                          (LAST_TRUNCATION | FIX, None, intent(1))])

    # A finished TruncateSuffix(1) left record 1, the start of a batch, last.
    seg = Segment(0).add(b"a", SYNC).add(b"batch-1", CONTINUES)
    out["last_truncation_batch"] = directory(
        0, seg.files() + [(LAST_TRUNCATION | FIX, None, intent(2))])

    # Files Open removes (uncommitted intents and rewrites, an index without
    # a store) or ignores (stray names); the segment has no index at all.
    seg = records(0, 2)
    out["leftovers"] = directory(0, seg.files(index=False) + [
        (PREFIX_TMP, None, intent(1)), (SUFFIX_TMP, None, intent(0)),
        (STORE_TMP, 0, seg.store()[:10]), (INDEX_TMP, 0, seg.index()[:12]),
        (STRAY, None, b"notes"), (STORE_BAK, 0, seg.store()),
        (INDEX, 9, records(9, 1).index()), (LOCK, None, b"pid 1")])

    # Reset(3) died after its intent, below the old log's end: every segment,
    # the prefix intent and LAST_TRUNCATION must go, and the log continues
    # empty at offset 3 (Open creates its segment).
    out["reset_intent_lower"] = directory(
        0, records(0, 4).files() + records(4, 3).files(index_size=INDEX_BYTES)
        + [(RESET | FIX, None, intent(3)), (LAST_TRUNCATION | FIX, None, intent(6)),
           (PREFIX | FIX, None, intent(4))])

    # Reset(100) died after removing the old segment and creating the empty
    # one at 100 (still full-size index), before removing its intent; a
    # leftover RESET.tmp is void.
    out["reset_intent_higher"] = directory(
        EVERY_APPEND, records(0, 2).files()
        + [(STORE | FIX, 100, b""), (INDEX, 100, b"\0" * INDEX_BYTES),
           (RESET | FIX, None, intent(100)), (RESET_TMP, None, intent(7))])

    # A damaged RESET: Open fails with kDataLoss and changes nothing.
    out["reset_intent_damaged"] = directory(
        0, records(0, 2).files() + [(RESET, None, corrupt(intent(1), 3))])

    out["damaged_intent"] = directory(
        0, records(0, 2).files() + [(SUFFIX, None, corrupt(intent(1), 3))])

    # A sealed segment whose last record is damaged, then a gap before the
    # next segment: skip mode keeps offsets 1..3 as lost (pointing into the
    # 124 damaged bytes, one byte apart), the others refuse. Then a
    # TruncateSuffix intent from offset 2 cuts the store at the lost offset
    # 2's position; with 1-byte segments the appends seal it, and the reopen
    # must accept the one damaged byte left for lost offset 1.
    seg = Segment(0).add(b"a", SYNC).add(b"x" * 100, SYNC)
    out["sealed_damage_gap"] = directory(0x01, [
        (STORE, 0, corrupt(seg.store(), seg.positions[1] + HEADER_SIZE + 20)),
        (INDEX, 0, seg.index())] + records(4, 1).files()
        + [(SUFFIX | FIX, None, intent(2))])

    # Reproducer of a bug the fuzzer found (docs/fuzzing.md, "Findings"):
    # that segment, with the next segment at base 1000000. Skip mode filled the
    # lost offsets up to it, one index entry each, however far away it was
    # (a next base of 2^40 exhausts memory); a 32-byte damaged region cannot
    # hold a million records, so the segments do not chain (kDataLoss).
    out["bug_skip_mode_unbounded_lost_offsets"] = directory(0, [
        (STORE, 0, corrupt(seg.store(), seg.positions[1] + HEADER_SIZE + 20)),
        (INDEX, 0, seg.index())] + records(1000000, 1).files())

    # Reproducer of a bug the fuzzer found: an index without a store below
    # the segment a prefix truncation keeps survived Open, and the first
    # roll onto its base failed (kAlreadyExists), leaving the log read-only.
    # 1-byte segments make the fuzzer's second append roll onto base 1.
    out["bug_prefix_intent_keeps_orphan_index"] = directory(0x01, [
        (INDEX, 1, b""), (PREFIX, None, intent(5))] + records(0, 1).files())

    # Reproducer of a bug the fuzzer found: a sealed store cut down to one
    # byte, its index of 4 entries intact. Skip mode keeps the 4 lost offsets
    # taken, at positions 0..3, past the store's end; the suffix intent then
    # made that segment active again (keeping offsets 0..2), and the fuzzer's
    # appends landed at position 1, below the kept positions: the next open
    # dropped them, although Close had synced them.
    out["bug_skip_mode_fillers_past_store_end"] = directory(0, [
        (STORE, 0, b"\x01"), (INDEX, 0, records(0, 4).index())]
        + records(4, 1).files() + [(SUFFIX, None, intent(3))])

    # Reproducer of a bug the fuzzer found: skip mode lost a record on the
    # second open. The sealed segment's index has 4 entries; only the last,
    # offset 3, points at a record (the store starts with preallocated zeros
    # and garbage), so the first open trusts all 4 and fills offsets 4..47,
    # lost in the damaged end, with filler entries. The second open's binary
    # search over those 48 entries never probes entry 3, trusts none, and
    # offset 3 reads as lost.
    head = b"\0" * HEADER_SIZE + b"g" * 50
    rec3 = fragment(FULL, struct.pack("<QQB", 3, 1003, SYNC) + b"three")
    index = b"".join(struct.pack("<IQ", i, p) for i, p in
                     enumerate([0, 10, 20, len(head)]))
    out["bug_skip_mode_reopen_loses_record"] = directory(0, [
        (STORE, 0, head + rec3 + b"x" * 100), (INDEX, 0, index)]
        + records(48, 1).files())

    # Reproducer of a bug the fuzzer found: the index is trusted (its last
    # entry verifies), record 0 inside it is damaged (not looked for), and
    # record 1 starts a batch the crash cut off. Removing the batch left the
    # damaged record last; once the fuzzer's appends rolled (1-byte segments)
    # and sealed the segment, every later open in tolerate-tail and
    # point-in-time mode failed: a sealed segment with damage.
    seg = Segment(0).add(b"zero", SYNC).add(b"batch-a", CONTINUES)
    out["bug_batch_cut_leaves_damaged_last_record"] = directory(0x01, [
        (STORE, 0, corrupt(seg.store(), HEADER_SIZE + 20)), (INDEX, 0, seg.index())])

    # Reproducer of a bug the fuzzer found: a finished TruncateSuffix cut the
    # store where the first removed record starts. Record 0 ends 3 bytes
    # before the end of block 0, so record 1 starts block 1 and the cut kept
    # the zero trailer; once the fuzzer's appends rolled (1-byte segments)
    # and sealed the segment, its store no longer ended with its last record,
    # and every later open in a mode other than skip failed.
    seg = Segment(0).add(b"v" * (BLOCK_SIZE - 3 - HEADER_SIZE - ENVELOPE_SIZE),
                         SYNC).add(b"next", SYNC)
    assert seg.positions[1] == BLOCK_SIZE
    out["bug_suffix_truncation_keeps_block_trailer"] = directory(
        0x01, seg.files() + [(SUFFIX, None, intent(1))])

    # Offsets near the top of the 64-bit range.
    out["base_near_2_64"] = directory(0, records(2**64 - 16, 2).files())

    # A record over two blocks, 200-byte segments and 3-entry indexes: the
    # appends roll new segments.
    seg = Segment(0).add(b"first", SYNC).add(bytes(range(256)) * 130, SYNC)
    out["big_record_small_segments"] = directory(
        STORE_200 | INDEX_36 | BIG_VALUE, seg.files())
    # Found by the fuzzer: a sealed segment whose store held no record the
    # scan could reach from 0 got skip-mode fillers at positions 0 and 1; a
    # real record (offset 1) sat at position 1, so the reopen trusted both
    # entries and took a stale record carrying offset 2, the next segment's
    # base, as the segment's third: the reopen failed the chain check.
    out["bug_skip_mode_sealed_record_past_next_base"] = bytes.fromhex(
        "00800040f6ba19451900010000000000000000e803000000000000007265636f72642d30"
        "ec2907ca1900010100000000000000e903000000000000017265636f72642d3101001800"
        "000000000000000000000001000000200000000000000080024000c0f3be190001026563"
        "6f72642d3101001800000000000000000000000001000000200000000000000080024000"
        "c0f3be1900010200000000000000ea03000000000000007261e887755812000101000000"
        "00000000e90300000000000000623f1cc5651800010200000000000000ea030000000000"
        "000262617463682d31a01c1c5718000103000000000000830c020000000000000078270b"
        "ff")
    return out


def main(argv):
    write_corpus(argv, seeds(), 100 * 1024)


if __name__ == "__main__":
    main(sys.argv)
