#!/usr/bin/env python3
"""Writes the seed corpus of write_batch_fuzzer: encoded write batches.

    tests/fuzz/make_write_batch_corpus.py tests/fuzz/corpus/write_batch

The encoding (LevelDB's WriteBatch rep, db/write_batch.h) is written here from
the spec, independently of the C++ encoder: the valid seeds must decode, and
re-encode to the same bytes unless they use an over-long varint. Output is
deterministic; rerunning rewrites the same bytes.
"""
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from make_block_reader_corpus import varint, write_corpus

PUT, DELETE = 1, 0


def put(key, value):
    return bytes([PUT]) + varint(len(key)) + key + varint(len(value)) + value


def delete(key):
    return bytes([DELETE]) + varint(len(key)) + key


def batch(ops, sequence=0, count=None):
    count = len(ops) if count is None else count
    return struct.pack("<QI", sequence, count) + b"".join(ops)


def seeds():
    out = {}
    out["empty_batch"] = batch([])
    out["puts_and_deletes"] = batch(
        [put(b"apple", b"red"), delete(b"pear"), put(b"plum", b"purple"),
         put(b"apple", b"green")], sequence=5)
    # Lengths of two varint bytes.
    out["long_key_and_value"] = batch(
        [put(b"k" * 300, b"v" * 1000), delete(b"d" * 200)], sequence=2**63)
    out["empty_key_and_value"] = batch([put(b"", b""), delete(b"")])
    # Accepted, but not canonical: key length 0 as 0x80 0x00.
    out["overlong_varint"] = batch([bytes([PUT, 0x80, 0x00, 0x01]) + b"x"])
    out["truncated_op"] = batch([put(b"a", b"1"), put(b"b", b"2")], count=3)
    out["bytes_after_last_op"] = batch([delete(b"a")]) + b"\x00"
    out["unknown_tag"] = batch([put(b"a", b"1"), b"\x02\x01a"])
    out["varint_too_wide"] = batch([bytes([DELETE, 0xFF, 0xFF, 0xFF, 0xFF, 0x1F])])
    out["huge_count"] = batch([delete(b"a")], count=0xFFFFFFFF)
    out["shorter_than_header"] = b"\x01\x02\x03\x04\x05"
    return out


def main(argv):
    write_corpus(argv, seeds(), 100 * 1024)


if __name__ == "__main__":
    main(sys.argv)
