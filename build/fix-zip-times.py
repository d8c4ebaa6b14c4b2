#!/usr/bin/env python3
"""Sets every entry time of the given zip files (.nupkg, .snupkg) to one fixed time, in place.

NuGet stamps each entry with the time of the pack, so two packs of one commit differed in those
bytes only. The time used is SOURCE_DATE_EPOCH (the reproducible-builds convention; build/pack.sh
sets it to the commit's time). Only the DOS time/date fields of the local and central headers
change: the compressed data, the CRCs and the layout stay exactly as NuGet wrote them.
Usage: fix-zip-times.py FILE...
"""
import os, struct, sys, time

def dos_time(epoch):
    t = time.gmtime(max(epoch, 315532800))  # DOS times start in 1980
    return ((t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2),
            ((t.tm_year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday)

def fix(path, stamp):
    with open(path, "r+b") as f:
        data = bytearray(f.read())
        end = data.rfind(b"PK\x05\x06")
        if end < 0:
            sys.exit(f"{path}: not a zip file")
        count, size, offset = struct.unpack_from("<HII", data, end + 10)
        at = offset
        for _ in range(count):
            if data[at:at + 4] != b"PK\x01\x02":
                sys.exit(f"{path}: damaged central directory at byte {at}")
            struct.pack_into("<HH", data, at + 12, *stamp)
            local = struct.unpack_from("<I", data, at + 42)[0]
            if data[local:local + 4] != b"PK\x03\x04":
                sys.exit(f"{path}: damaged local header at byte {local}")
            struct.pack_into("<HH", data, local + 10, *stamp)
            name, extra, comment = struct.unpack_from("<HHH", data, at + 28)
            at += 46 + name + extra + comment
        f.seek(0)
        f.write(data)

stamp = dos_time(int(os.environ.get("SOURCE_DATE_EPOCH", "315532800")))
for path in sys.argv[1:]:
    fix(path, stamp)
