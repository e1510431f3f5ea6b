#!/usr/bin/env python3
"""An independent reader of TensorBoard event files, for tensorboard's Go tests.

Usage: read_events.py GEN_DIR FILE...

GEN_DIR holds the classes protoc generated from proto/ (the package
tensorboard.compat.proto). The TFRecord framing is parsed here: every
record's length CRC and data CRC are checked with a CRC-32C written below,
each record is decoded as an Event with the generated classes, and it must
re-serialize to the same bytes (so no field landed in an unknown number).
Prints one JSON object: {"files": [{"path": ..., "events": [...]}]}. Any
inconsistency (a CRC, a torn or trailing record, unknown fields) exits 1
with a message on stderr.
"""
import json
import struct
import sys


def crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


TABLE = crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = TABLE[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def fail(msg):
    print(msg, file=sys.stderr)
    sys.exit(1)


def records(path):
    with open(path, "rb") as f:
        buf = f.read()
    off = 0
    while off < len(buf):
        if len(buf) - off < 12:
            fail(f"{path}: torn header at byte {off}")
        header = buf[off:off + 8]
        (length,) = struct.unpack("<Q", header)
        (lcrc,) = struct.unpack("<I", buf[off + 8:off + 12])
        if lcrc != masked(header):
            fail(f"{path}: length CRC mismatch at byte {off}")
        end = off + 12 + length
        if end + 4 > len(buf):
            fail(f"{path}: torn record at byte {off}")
        data = buf[off + 12:end]
        (dcrc,) = struct.unpack("<I", buf[end:end + 4])
        if dcrc != masked(data):
            fail(f"{path}: data CRC mismatch at byte {off}")
        yield off, data
        off = end + 4


def main():
    if len(sys.argv) < 3:
        fail(__doc__)
    sys.path.insert(0, sys.argv[1])
    from tensorboard.compat.proto import event_pb2, types_pb2

    if crc32c(b"123456789") != 0xE3069283:  # the CRC-32C check value
        fail("crc32c self-check failed")
    out = {"files": []}
    for path in sys.argv[2:]:
        events = []
        for off, data in records(path):
            ev = event_pb2.Event()
            ev.ParseFromString(data)
            if ev.SerializeToString() != data:
                fail(f"{path}: record at byte {off} does not re-serialize to its bytes (unknown or misnumbered fields)")
            e = {"wall_time": ev.wall_time, "step": ev.step, "what": ev.WhichOneof("what")}
            if e["what"] == "file_version":
                e["file_version"] = ev.file_version
            elif e["what"] == "session_log":
                e["session_status"] = ev.session_log.status
            elif e["what"] == "summary":
                values = []
                for v in ev.summary.value:
                    d = {"tag": v.tag, "kind": v.WhichOneof("value")}
                    if d["kind"] == "simple_value":
                        d["simple_value"] = v.simple_value
                    elif d["kind"] == "tensor":
                        t = v.tensor
                        d["dtype"] = types_pb2.DataType.Name(t.dtype)
                        d["rank"] = len(t.tensor_shape.dim)
                        d["has_shape"] = t.HasField("tensor_shape")
                        d["strings"] = [s.decode("utf-8") for s in t.string_val]
                    if v.HasField("metadata"):
                        d["plugin_name"] = v.metadata.plugin_data.plugin_name
                    values.append(d)
                e["values"] = values
            events.append(e)
        out["files"].append({"path": path, "events": events})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
