#!/usr/bin/env python3
"""Writes the seed corpus of checkpoint_fuzzer: checkpoint files.

    tests/fuzz/make_checkpoint_corpus.py tests/fuzz/corpus/checkpoint

The format (db/checkpoint.h, version 2: block-framed header, chunk, index,
padding and trailer records) is encoded here from the spec, independently of
the C++ writer; the replay program says whether the writer rewrites each
valid seed to identical bytes (it does when every chunk fits the rest of its
block, as in these small seeds). Output is deterministic;
rerunning rewrites the same bytes.
"""
import struct
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from make_block_reader_corpus import Log, crc32c, mask, varint, write_corpus

HEADER, CHUNK, TRAILER, INDEX, PADDING = 1, 2, 3, 4, 5
BLOCK, HEADER_BYTES, TRAILER_RECORD = 32768, 7, 28


def header(wal_offset, magic=b"BWKVCKPT", version=2):
    return bytes([HEADER]) + magic + struct.pack("<IQ", version, wal_offset)


def chunk(pairs):
    body = b"".join(varint(len(k)) + k + varint(len(v)) + v for k, v in pairs)
    return bytes([CHUNK]) + varint(len(pairs)) + body


def start_of_next(log):
    """Where the next record's first fragment starts."""
    pos = len(log.data)
    left = BLOCK - pos % BLOCK
    return pos + left if left < HEADER_BYTES else pos


def checkpoint(wal_offset, chunks, keys=None, extra=(), magic=b"BWKVCKPT"):
    """A file of the header, the chunks (lists of pairs), `extra` records,
    the index of the chunks, padding if needed, and the trailer (with `keys`
    as its key count when given)."""
    if keys is None:
        keys = sum(len(c) for c in chunks)
    log = Log()
    log.add(header(wal_offset, magic=magic))
    entries = b""
    for c in chunks:
        payload = chunk(c)
        pos = start_of_next(log)
        log.add(payload)
        first = c[0][0] if c else b""
        entries += (varint(pos) + varint(len(payload)) + varint(len(c)) +
                    varint(len(first)) + first)
    for r in extra:
        log.add(r)
    index = bytes([INDEX]) + varint(len(chunks)) + entries
    index_pos = start_of_next(log)
    log.add(index)
    left = BLOCK - len(log.data) % BLOCK
    if HEADER_BYTES <= left < TRAILER_RECORD:
        pad = left - HEADER_BYTES
        log.add(bytes([PADDING]) + bytes(pad - 1) if pad else b"")
    log.add(bytes([TRAILER]) + struct.pack("<QIQ", index_pos, len(index), keys))
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
    # An index that ends where the trailer no longer fits its block: padded.
    out["padded_trailer"] = checkpoint(
        3, [[(b"k", bytes(32768 - 28 - 7 - 12 - 7 - 20))]])
    out["keys_out_of_order"] = checkpoint(7, [[PAIRS[1], PAIRS[0]]])
    out["duplicate_key_across_chunks"] = checkpoint(7, [PAIRS[:2], PAIRS[1:]])
    out["key_count_mismatch"] = checkpoint(7, [PAIRS], keys=4)
    out["cut_before_trailer"] = checkpoint(7, [PAIRS])[:-16]
    out["bad_magic"] = checkpoint(7, [], magic=b"BWKVCKPX")
    out["record_between_chunks_and_index"] = checkpoint(
        7, [PAIRS], extra=[chunk([])])
    # After the trailer: the start of a header cut off by the end of the file
    # (a torn write) or preallocated zeros.
    out["torn_bytes_after_trailer"] = checkpoint(7, [PAIRS]) + b"\x12\x34\x56"
    out["zeros_after_trailer"] = checkpoint(7, [PAIRS]) + b"\0" * 100
    return out


def main(argv):
    write_corpus(argv, seeds(), 100 * 1024)


if __name__ == "__main__":
    main(sys.argv)
