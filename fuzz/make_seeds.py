#!/usr/bin/env python3
"""Writes the seed inputs of the fuzz targets into fuzz/seeds/TARGET/ from the shipped
config example, the pattern packs and a sample bot log, in each target's input layout
(see fuzz/checks/*.rs). Run it again when those layouts change; the seeds are committed."""

import pathlib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent

LOG = b"""2026-11-23 09:41:42,001 - bot - INFO - Update VIX=17.1
2026-11-23 09:41:42,002 - bot - ERROR - order 1234 failed: margin
Traceback (most recent call last):
  File "/opt/bot/broker.py", line 88, in send
    sock.send(data)
KeyError: 'x'

During handling of the above exception, another exception occurred:

Traceback (most recent call last):
  File "/opt/bot/main.py", line 3, in main
ValueError: boom
Nov 23 09:41:42 host bot[123]: Position SPY qty=10\r
1.2.3.4 - - [23/Nov/2026:09:41:42 +0000] "GET /health HTTP/1.1" 200 2
2026-11-23T09:41:42.123456+01:00 ConnectionResetError: [Errno 104] reset by peer
"""


def write(target, name, data):
    d = HERE / "seeds" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_bytes(data)


def main():
    example = (ROOT / "examples" / "logwarden.toml").read_bytes()
    for pack in sorted((ROOT / "patterns").glob("*.toml")):
        write("config", pack.stem, example + b"\0" + pack.read_bytes())
    for dropin in sorted((ROOT / "examples" / "logwarden.d").glob("*.toml")):
        write("config", "dropin-" + dropin.stem, dropin.read_bytes() + b"\0")

    # line_reader: max_line byte, then (op, length, bytes) pieces; op % 8 == 0 flushes.
    pieces = b""
    for i in range(0, len(LOG), 37):
        chunk = LOG[i:i + 37]
        pieces += bytes([2, len(chunk)]) + chunk
    write("line_reader", "log-in-pieces", bytes([40]) + pieces + b"\x00")
    write("line_reader", "short-max-line", bytes([7]) + pieces)

    # multiline: grouping, max_lines, max_bytes (u16), timeout; then op 2 + line + newline,
    # op 0 = batch end, op 1 = file change.
    for grouping, name in [(0, "python"), (1, "start"), (2, "continuation")]:
        body = b"".join(b"\x02" + line + b"\n" for line in LOG.split(b"\n"))
        write("multiline", name, bytes([grouping, 50, 0xFF, 0x07, 1]) + body + b"\x00")

    # template: max kinds, then events separated by NUL.
    events = LOG.split(b"\n") + [b"\n".join(LOG.split(b"\n")[2:12])]
    write("template", "bot-log", bytes([5]) + b"\0".join(events))
    # vocabulary mode (head bit 7): words picked by byte, events separated by 0xFF.
    write("template", "vocabulary", bytes([0x85]) + b"\xff".join(
        bytes(range(i, i + 6)) for i in range(0, 12)))

    # timestamp: mode 0 (arbitrary lines), zone, format auto (0); lines.
    for zone in range(3):
        write("timestamp", f"auto-zone{zone}", bytes([0, zone, 0]) + LOG)
    fmt = b"%d.%m.%Y %H:%M:%S"
    write("timestamp", "strftime",
          bytes([0, 1, 1, len(fmt)]) + fmt + b"23.11.2026 09:41:42 x\n")

    # matcher: pattern count; per pattern flags, literals, regexes, ignores; then lines.
    def strings(items):
        out = bytes([len(items)])
        for s in items:
            out += bytes([len(s)]) + s
        return out

    pattern = (b"\x00" + strings([b"ERROR", b"Traceback"]) + strings([rb"\bErr(no|or)\b"])
               + strings([b"heartbeat"]) + strings([]))
    write("matcher", "error-pattern", b"\x01" + pattern + LOG)

    # buffer_scan: the matcher's patterns; max_line, piece count and sizes; then the log.
    anchored = (b"\x01" + strings([b" ERROR "]) + strings([rb"^Traceback", rb"\)$", rb"[^a-z]\s+File"])
                + strings([b"health"]) + strings([]))
    write("buffer_scan", "error-pattern", b"\x01" + pattern + b"\x10\x02\x07\x1f" + LOG)
    write("buffer_scan", "anchors", b"\x01" + anchored + b"\x28\x01\x3f" + LOG)
    write("buffer_scan", "anchors-crlf-cut", b"\x01" + anchored + b"\x05\x03\x01\x02\x05"
          + LOG.replace(b"\n", b"\r\n") + b"no newline)")

    # fields: mode 0 (arbitrary bytes), 1 (generated JSON), 2 (generated logfmt).
    write("fields", "json-line", b"\x00" + b'{"time":"2026-11-23T09:41:42Z","level":"error",'
          b'"msg":"order \\"1234\\" failed\\n","http":{"status":503,"ms":12.5},"tags":["a"],"ok":null}')
    write("fields", "logfmt-line", b"\x03" + b'time=2026-11-23T09:41:42Z level=ERROR msg="a \\"b\\"" ms=250 retry')
    write("fields", "generated-json", b"\x01\x04" + bytes(range(1, 120)))
    write("fields", "generated-logfmt", b"\x02\x05" + bytes(range(200, 256)) + bytes(range(0, 60)))


main()
