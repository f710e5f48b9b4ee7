#!/usr/bin/env python3
"""Writes the seed corpus of segment_recovery_fuzzer: one segment's store and index.

    tests/fuzz/make_segment_recovery_corpus.py tests/fuzz/corpus/segment_recovery

Each seed is the fuzzer's input (see the top of segment_recovery_fuzzer.cc):
an options byte, a `next` byte, the store's length as a varint, the store,
then the index bytes. Segments are encoded from the spec by
make_log_open_corpus.py's Segment (base offset 1000). Output is
deterministic. The replay program prints what each mode made of each seed:

    build/tests/fuzz/segment_recovery_fuzz_replay tests/fuzz/corpus/segment_recovery
"""
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from make_block_reader_corpus import BLOCK_SIZE, varint, write_corpus
from make_log_open_corpus import CONTINUES, SYNC, Segment, corrupt

BASE = 1000
# Options byte bits (segment_recovery_fuzzer.cc).
LAST, TRUST_INDEX, FIX = 0x01, 0x02, 0x04
BELOW_1001, BELOW_1003, BELOW_NEXT = 0x08, 0x10, 0x18
CAPACITY_3, CAPACITY_4096 = 0x40, 0x60


def seed(options, seg, store=None, index=None, next_offset=0):
    store = seg.store() if store is None else store
    index = seg.index() if index is None else index
    return bytes([options, next_offset]) + varint(len(store)) + store + index


def records(n, flags=None):
    seg = Segment(BASE)
    for i in range(n):
        seg.add(b"value-%d" % i, (flags or {}).get(i, SYNC if i == n - 1 else 0))
    return seg


def seeds():
    out = {}
    seg = records(5)
    out["clean_last"] = seed(LAST, seg)
    out["clean_sealed"] = seed(0, seg, next_offset=5)
    out["sealed_short"] = seed(0, seg, next_offset=9)
    out["active_index_zero_tail"] = seed(LAST, seg, index=seg.index(120))
    out["index_behind"] = seed(LAST, seg, index=records(2).index(60))
    out["index_ahead"] = seed(LAST, records(3), index=seg.index())
    out["no_index"] = seed(LAST, seg, index=b"")
    out["torn_tail"] = seed(LAST, seg, store=seg.store()[:-5])
    out["damaged_middle"] = seed(LAST | FIX, seg, store=corrupt(seg.store(), 40),
                                  index=b"")
    out["damaged_middle_crc"] = seed(LAST, seg, store=corrupt(seg.store(), 40),
                                  index=b"")
    out["damaged_under_index"] = seed(LAST | FIX, seg, store=corrupt(seg.store(), 40))
    out["trusted_index"] = seed(LAST | TRUST_INDEX, seg)
    batch = records(6, {3: CONTINUES, 4: CONTINUES, 5: CONTINUES})
    out["batch_cut_off"] = seed(LAST, batch)
    out["batch_below_truncation"] = seed(LAST | BELOW_NEXT, batch, next_offset=6)
    out["batch_half_truncated"] = seed(LAST | BELOW_1003, batch)
    synced = records(6, {2: SYNC, 5: SYNC})
    out["damage_then_synced"] = seed(LAST, synced, store=corrupt(synced.store(), 50),
                                 index=b"")
    big = Segment(BASE).add(b"a" * 100, SYNC).add(bytes(range(256)) * 150, SYNC)
    big.add(b"after", SYNC)
    out["spans_blocks"] = seed(LAST | FIX, big)
    out["spans_blocks_damaged"] = seed(
        LAST | FIX, big, store=corrupt(big.store(), BLOCK_SIZE + 100), index=b"")
    out["skip_sealed_gap"] = seed(CAPACITY_4096, records(3), next_offset=7)
    out["skip_sealed_gap_small"] = seed(CAPACITY_3, records(3), next_offset=200)
    out["zeroed_middle"] = seed(
        LAST, seg, store=seg.store()[:30] + bytes(40) + seg.store()[70:],
        index=b"")
    return out


def main(argv):
    write_corpus(argv, seeds(), 100 * 1024)


if __name__ == "__main__":
    main(sys.argv)
