#!/usr/bin/env python3
"""Independent decoder for TensorBoard event files (tests keel's encoder; no keel code reused).

Written from the specifications only: TFRecord framing (tensorflow/core/lib/io/record_writer.cc:
uint64 length, masked CRC32C of the length, data, masked CRC32C of the data), the protobuf wire
format (developers.google.com/protocol-buffers/docs/encoding) and TensorFlow's field numbers
(event.proto, summary.proto, tensor.proto, tensor_shape.proto). CRC32C is computed bit by bit
here, not with a table, so it shares no code shape with src/io/crc32c.cpp.

Usage: tensorboard_decode.py FILE...   prints one JSON object per file:
  {"file": ..., "file_version": "brain.Event:2",
   "events": [{"step": s, "wall_time": t, "values": [{"tag", "plugin", "data_class", "kind",
              "value" (scalars) | "buckets" [[left, right, count], ...] (histograms)}]}]}
Exit status 1 on any CRC mismatch, truncation or malformed protobuf.
"""
import json
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class Malformed(Exception):
    pass


def fields(buf):
    """Yields (field_number, wire_type, value) of one protobuf message."""
    pos = 0

    def varint():
        nonlocal pos
        result, shift = 0, 0
        while True:
            if pos >= len(buf):
                raise Malformed("truncated varint")
            b = buf[pos]
            pos += 1
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise Malformed("varint too long")

    while pos < len(buf):
        key = varint()
        number, wire = key >> 3, key & 7
        if wire == 0:
            yield number, wire, varint()
        elif wire == 1:
            if pos + 8 > len(buf):
                raise Malformed("truncated fixed64")
            yield number, wire, buf[pos:pos + 8]
            pos += 8
        elif wire == 5:
            if pos + 4 > len(buf):
                raise Malformed("truncated fixed32")
            yield number, wire, buf[pos:pos + 4]
            pos += 4
        elif wire == 2:
            n = varint()
            if pos + n > len(buf):
                raise Malformed("truncated length-delimited field")
            yield number, wire, buf[pos:pos + n]
            pos += n
        else:
            raise Malformed("wire type %d" % wire)


def decode_tensor(buf):
    dtype, dims, content, floats, doubles = 0, [], b"", [], []
    for number, wire, v in fields(buf):
        if number == 1 and wire == 0:
            dtype = v
        elif number == 2 and wire == 2:
            for n2, w2, dim in fields(v):
                if n2 == 2 and w2 == 2:
                    size = 0
                    for n3, w3, s in fields(dim):
                        if n3 == 1 and w3 == 0:
                            size = s
                    dims.append(size)
        elif number == 4 and wire == 2:
            content = v
        elif number == 5:
            floats += list(struct.unpack("<%df" % (len(v) // 4), v)) if wire == 2 else [struct.unpack("<f", v)[0]]
        elif number == 6:
            doubles += list(struct.unpack("<%dd" % (len(v) // 8), v)) if wire == 2 else [struct.unpack("<d", v)[0]]
    if content:
        fmt = {1: "f", 2: "d"}.get(dtype)
        if fmt is None:
            raise Malformed("tensor_content of dtype %d" % dtype)
        values = list(struct.unpack("<%d%s" % (len(content) // struct.calcsize(fmt), fmt), content))
    else:
        values = floats if dtype == 1 else doubles
    return dtype, dims, values


def decode_value(buf):
    out = {"tag": None, "plugin": None, "data_class": 0}
    for number, wire, v in fields(buf):
        if number == 1 and wire == 2:
            out["tag"] = v.decode("utf-8")
        elif number == 2 and wire == 5:
            out["kind"], out["value"] = "scalar", struct.unpack("<f", v)[0]
        elif number == 9 and wire == 2:
            for n2, w2, m in fields(v):
                if n2 == 1 and w2 == 2:
                    for n3, w3, p in fields(m):
                        if n3 == 1 and w3 == 2:
                            out["plugin"] = p.decode("utf-8")
                elif n2 == 4 and w2 == 0:
                    out["data_class"] = m
        elif number == 8 and wire == 2:
            dtype, dims, values = decode_tensor(v)
            out["dtype"], out["shape"] = dtype, dims
            if dims == [] and len(values) == 1:
                out["kind"], out["value"] = "scalar", values[0]
            elif len(dims) == 2 and dims[1] == 3 and len(values) == dims[0] * 3:
                out["kind"] = "histogram"
                out["buckets"] = [values[i:i + 3] for i in range(0, len(values), 3)]
            else:
                raise Malformed("tensor of shape %s with %d values" % (dims, len(values)))
    return out


def summary_records(logdir, run="train"):
    """(step, [decoded summary values]) for every record of LOGDIR/RUN/*tfevents*, in file order,
    without the CRC check (fast enough for logs of tens of MB; stop iterating to read only the
    start)."""
    import glob
    import os
    for path in sorted(glob.glob(os.path.join(logdir, run, "*tfevents*"))):
        with open(path, "rb") as f:
            while True:
                header = f.read(12)
                if len(header) < 12:
                    break
                (length,) = struct.unpack("<Q", header[:8])
                payload = f.read(length)
                f.read(4)
                step, values = 0, []
                for number, wire, v in fields(payload):
                    if number == 2 and wire == 0:
                        step = v
                    elif number == 5 and wire == 2:
                        values += [decode_value(val) for n2, w2, val in fields(v) if n2 == 1 and w2 == 2]
                yield step, values


def decode_file(path):
    data = open(path, "rb").read()
    pos, events, file_version = 0, [], None
    while pos < len(data):
        if pos + 12 > len(data):
            raise Malformed("%s: truncated record header at %d" % (path, pos))
        header = data[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        if struct.unpack("<I", data[pos + 8:pos + 12])[0] != masked(crc32c(header)):
            raise Malformed("%s: length CRC mismatch at %d" % (path, pos))
        payload = data[pos + 12:pos + 12 + length]
        if len(payload) != length or pos + 16 + length > len(data):
            raise Malformed("%s: truncated record at %d" % (path, pos))
        if struct.unpack("<I", data[pos + 12 + length:pos + 16 + length])[0] != masked(crc32c(payload)):
            raise Malformed("%s: data CRC mismatch at %d" % (path, pos))
        pos += 16 + length
        event = {"step": 0, "wall_time": None, "values": []}
        for number, wire, v in fields(payload):
            if number == 1 and wire == 1:
                event["wall_time"] = struct.unpack("<d", v)[0]
            elif number == 2 and wire == 0:
                event["step"] = v
            elif number == 3 and wire == 2:
                event["file_version"] = v.decode("utf-8")
            elif number == 5 and wire == 2:
                for n2, w2, val in fields(v):
                    if n2 == 1 and w2 == 2:
                        event["values"].append(decode_value(val))
        if not events:
            file_version = event.get("file_version")
        events.append(event)
    return {"file": path, "file_version": file_version, "events": events}


def main(argv):
    try:
        for path in argv[1:]:
            print(json.dumps(decode_file(path)))
    except Malformed as e:
        print("tensorboard_decode: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
