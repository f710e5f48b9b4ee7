#!/usr/bin/env python3
"""Writes the seed corpus of checkpoint_fuzzer: checkpoint files.

    tests/fuzz/make_checkpoint_corpus.py tests/fuzz/corpus/checkpoint

The format (db/checkpoint.h: block-framed header, chunk and trailer records)
is encoded here from the spec, independently of the C++ writer; the replay
program says whether the writer rewrites each valid seed to identical bytes
(it does for one chunk per 64 KiB of pairs). Output is deterministic;
rerunning rewrites the same bytes.
"""
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from make_block_reader_corpus import Log, crc32c, mask, varint, write_corpus

HEADER, CHUNK, TRAILER = 1, 2, 3


def header(wal_offset, keys, magic=b"BWKVCKPT", version=1):
    return bytes([HEADER]) + magic + struct.pack("<IQQ", version, wal_offset, keys)


def chunk(pairs):
    body = b"".join(varint(len(k)) + k + varint(len(v)) + v for k, v in pairs)
    return bytes([CHUNK]) + varint(len(pairs)) + body


def trailer(records):
    return bytes([TRAILER]) + struct.pack(
        "<II", len(records), mask(crc32c(b"".join(records))))


def checkpoint(wal_offset, chunks, keys=None, extra=()):
    """A file of the header, the chunks (lists of pairs), the trailer and
    any `extra` records after it."""
    if keys is None:
        keys = sum(len(c) for c in chunks)
    records = [header(wal_offset, keys)] + [chunk(c) for c in chunks]
    log = Log()
    for r in records + [trailer(records)] + list(extra):
        log.add(r)
    return bytes(log.data)


PAIRS = [(b"apple", b"red"), (b"banana", b"yellow"), (b"cherry", b"dark red")]


def seeds():
    out = {}
    out["empty_table"] = checkpoint(0, [])
    out["one_chunk"] = checkpoint(42, [PAIRS])
    out["two_chunks"] = checkpoint(7, [PAIRS[:1], PAIRS[1:]])
    out["empty_chunk"] = checkpoint(7, [[], PAIRS])
    # A value over two blocks: the records are fragmented.
    out["fragmented_value"] = checkpoint(
        9, [[(b"big", bytes(range(256)) * 160), (b"small", b"")]])
    out["keys_out_of_order"] = checkpoint(7, [[PAIRS[1], PAIRS[0]]])
    out["duplicate_key_across_chunks"] = checkpoint(7, [PAIRS[:2], PAIRS[1:]])
    out["key_count_mismatch"] = checkpoint(7, [PAIRS], keys=4)
    out["cut_before_trailer"] = checkpoint(7, [PAIRS])[:-16]
    # The trailer's CRC is wrong (its record's block CRC is right).
    log = Log()
    records = [header(7, 3), chunk(PAIRS)]
    bad = bytearray(trailer(records))
    bad[-1] ^= 0x01
    for r in records + [bytes(bad)]:
        log.add(r)
    out["trailer_crc_mismatch"] = bytes(log.data)
    log = Log()
    records = [header(7, 0, magic=b"BWKVCKPX")]
    for r in records + [trailer(records)]:
        log.add(r)
    out["bad_magic"] = bytes(log.data)
    out["record_after_trailer"] = checkpoint(7, [PAIRS], extra=[chunk([])])
    # After the trailer: the start of a header cut off by the end of the file
    # (a torn write, read as end of file) or preallocated zeros.
    out["torn_bytes_after_trailer"] = checkpoint(7, [PAIRS]) + b"\x12\x34\x56"
    out["zeros_after_trailer"] = checkpoint(7, [PAIRS]) + b"\0" * 100
    return out


def main(argv):
    write_corpus(argv, seeds(), 100 * 1024)


if __name__ == "__main__":
    main(sys.argv)
