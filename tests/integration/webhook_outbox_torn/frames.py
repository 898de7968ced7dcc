#!/usr/bin/env python3
"""frames.py OUTBOX: the frames of a webhook outbox file (store/outbox.c: the
journal's framing, u32 payload length + u32 CRC-32 little-endian, then the
payload; its first byte is the record type: A add, T attempt, D done).

Prints one line per whole frame, "A OFFSET LENGTH ID CALLSID SEQ" for an
ADD (the entry's id, call SID and sequence number), "T OFFSET LENGTH ID" and
"D OFFSET LENGTH ID" for the others (every payload has the u64 id after the
type byte), then "torn OFFSET BYTES" when bytes
after the last whole frame do not form one. Exit 1 when a frame cannot be
read as documented above (the format changed: the case must be updated).
"""
import struct
import sys
import zlib

data = open(sys.argv[1], "rb").read()
off = 0
while off + 8 <= len(data):
    plen, crc = struct.unpack_from("<II", data, off)
    if off + 8 + plen > len(data) or zlib.crc32(data[off + 8:off + 8 + plen]) != crc:
        break
    p = data[off + 8:off + 8 + plen]
    t = chr(p[0])
    rid = struct.unpack_from("<Q", p, 1)[0]
    if t == "A":
        # type, id u64, sequence u32, attempts u32, created u64, call_sid str
        seq = struct.unpack_from("<I", p, 9)[0]
        n = struct.unpack_from("<I", p, 25)[0]
        sid = p[29:29 + n].decode()
        if not sid.startswith("CA"):
            print("unexpected ADD layout at %d" % off, file=sys.stderr)
            sys.exit(1)
        print("A %d %d %d %s %d" % (off, 8 + plen, rid, sid, seq))
    elif t in "TD":
        print("%s %d %d %d" % (t, off, 8 + plen, rid))
    else:
        print("unknown record type %r at %d" % (t, off), file=sys.stderr)
        sys.exit(1)
    off += 8 + plen
if off < len(data):
    print("torn %d %d" % (off, len(data) - off))
