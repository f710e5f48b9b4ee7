#!/usr/bin/env python3
"""Writes the seed corpus of block_reader_fuzzer: small block-format logs.

    tests/fuzz/make_block_reader_corpus.py tests/fuzz/corpus/block_reader

The format is encoded here from the spec (wal/format.h), independently of the
C++ writer, so the seeds also cross-check it: the clean seeds must read back
without a report. Output is deterministic; rerunning rewrites the same bytes.
"""
import os
import struct
import sys

BLOCK_SIZE = 32768
HEADER_SIZE = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def _crc32c_table():
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def fragment(rtype, payload):
    crc = mask(crc32c(bytes([rtype]) + payload))
    return struct.pack("<IHB", crc, len(payload), rtype) + payload


class Log:
    """A minimal writer: the same fragmentation rules as BlockWriter."""

    def __init__(self):
        self.data = bytearray()

    def add(self, payload):
        left = payload
        begin = True
        while True:
            leftover = BLOCK_SIZE - len(self.data) % BLOCK_SIZE
            if leftover < HEADER_SIZE:
                self.data += b"\0" * leftover  # the trailer
                leftover = BLOCK_SIZE
            avail = leftover - HEADER_SIZE
            piece, left = left[:avail], left[avail:]
            end = not left
            rtype = (FULL if end else FIRST) if begin else (LAST if end else MIDDLE)
            self.data += fragment(rtype, piece)
            begin = False
            if end:
                return


def filled(text, n):
    return (text * (n // len(text) + 1))[:n]


def seeds():
    out = {}
    out["empty.log"] = b""

    log = Log()
    for p in [b"foo", b"", b"hello, world", filled(b"abc", 200)]:
        log.add(p)
    out["full_records.log"] = bytes(log.data)

    log = Log()
    log.add(filled(b"fragment", 40000))  # FIRST in block 0, LAST in block 1
    out["fragmented_two_blocks.log"] = bytes(log.data)

    log = Log()
    log.add(filled(b"x", BLOCK_SIZE - HEADER_SIZE - 3))  # leaves 3 bytes
    log.add(b"after the trailer")
    out["padded_trailer.log"] = bytes(log.data)

    log = Log()
    log.add(filled(b"y", BLOCK_SIZE - 2 * HEADER_SIZE))  # leaves exactly 7
    log.add(b"empty FIRST then LAST")
    out["marginal_trailer.log"] = bytes(log.data)

    log = Log()
    for p in [b"one", b"two", b"three"]:
        log.add(p)
    data = bytearray(log.data)
    data[HEADER_SIZE + 3] ^= 0x01  # the CRC of "two"
    out["corrupted_crc.log"] = bytes(data)

    log = Log()
    log.add(b"before preallocated space")
    out["zero_padding.log"] = bytes(log.data) + b"\0" * 64

    log = Log()
    log.add(b"good")
    log.add(filled(b"torn", 100))
    out["torn_tail.log"] = bytes(log.data[:-30])
    return out


def varint(n):
    """LevelDB's varint encoding (util/coding.h), for the other generators."""
    out = bytearray()
    while n >= 0x80:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def write_corpus(argv, seeds, max_bytes):
    """The generators' main: writes each seed to argv[1]/name, checking its size."""
    script = os.path.basename(argv[0])
    if len(argv) != 2:
        sys.exit(f"usage: {script} OUTPUT_DIR")
    os.makedirs(argv[1], exist_ok=True)
    for name, data in sorted(seeds.items()):
        assert len(data) < max_bytes, name
        with open(os.path.join(argv[1], name), "wb") as f:
            f.write(data)
        print(f"{name}: {len(data)} bytes")


def main(argv):
    write_corpus(argv, seeds(), 40 * 1024)


if __name__ == "__main__":
    main(sys.argv)
