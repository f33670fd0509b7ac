#!/usr/bin/env python3
"""Writes the benchmark corpus: realistic Python-logging lines of a trading bot, identical on
every run and every machine (its own xorshift PRNG, no `random` module, no clock).

    python3 bench/gen_corpus.py OUT [LINES]          (LINES defaults to 1,000,000)
    python3 bench/gen_corpus.py --peer OUT [LINES]   the peer corpus (bench/peers.py): another
                                                     seed, 1.55 % ERROR, 1 in 650 a 10 KB line

What is in it, per line: ~1.5 % ERROR records (a third of them followed by a multi-line
traceback), WARNINGs, VIX/Position/Update lines, DEBUG heartbeats, 1 in 5,000 a 10 KB
payload dump and 1 in 2,000 a line with invalid UTF-8. Tracebacks count as lines.
"""

import sys

MASK = (1 << 64) - 1


class Rng:
    """xorshift64*: fixed seed, same sequence on every Python version."""

    def __init__(self, seed):
        self.s = seed & MASK or 1

    def next(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & MASK
        s ^= s >> 27
        self.s = s
        return (s * 0x2545F4914F6CDD1D) & MASK

    def below(self, n):
        return self.next() % n

    def pick(self, seq):
        return seq[self.next() % len(seq)]


LOGGERS = ["bot.broker", "bot.strategy", "bot.feed", "bot.risk", "bot.orders", "urllib3.connectionpool"]
SYMBOLS = ["SPY", "QQQ", "AAPL", "MSFT", "NVDA", "TSLA", "ES", "NQ", "BTC-USD", "ETH-USD"]
ERRORS = [
    "order {oid} rejected: InsufficientFunds (margin 1243.50 < 2000.00)",
    "socket timeout while reading quotes from wss://feed.example/ws",
    "connection reset by peer (broker gateway)",
    "HTTP 502 from https://api.broker.example/v2/orders",
    "lost connection to exchange, reconnecting",
    "InvalidNonce: nonce too low ({n})",
    "failed to parse quote: KeyError 'bid'",
    "stale quote for {sym}: last update 31.2 s ago",
    "websocket closed unexpectedly (code 1006)",
    "rate limited by broker, retrying in 2 s",
]
TRACEBACKS = [
    ("ConnectionResetError: [Errno 104] Connection reset by peer", "resp = self.session.post(url, json=payload, timeout=5)"),
    ("TimeoutError: timed out", "msg = await asyncio.wait_for(ws.recv(), 10)"),
    ("KeyError: 'bid'", "bid = float(quote['bid'])"),
    ("ValueError: could not convert string to float: ''", "px = float(fields[3])"),
    ("ZeroDivisionError: float division by zero", "ratio = pnl / exposure"),
    ("OSError: [Errno 28] No space left on device", "fh.write(json.dumps(state))"),
]
WARNINGS = [
    "slow response from broker: {ms} ms",
    "spread on {sym} widened to {bp} bp",
    "retrying in {s} s (attempt {a}/5)",
    "position size near limit: {q}/1000",
]


def main():
    argv = sys.argv[1:]
    peer = bool(argv) and argv[0] == "--peer"
    if peer:
        argv = argv[1:]
    out = argv[0]
    total = int(argv[1]) if len(argv) > 1 else 1_000_000
    # The peer corpus: more ERRORs and ten-kilobyte lines, so that a tool slow on long lines
    # shows it; the default one is what bench/README.md's main table measures.
    seed, errors, dump_every = (0x7065657273, 155, 650) if peer else (0x6C6F677761726465, 150, 5000)
    rng = Rng(seed)
    t_ms = 0  # milliseconds since 2026-11-23 00:00:00
    vix = 1725  # hundredths
    n = 0
    buf = []
    with open(out, "wb") as f:
        while n < total:
            t_ms += rng.below(40)
            s = t_ms // 1000
            stamp = "2026-11-23 %02d:%02d:%02d,%03d" % ((s // 3600) % 24, (s // 60) % 60, s % 60, t_ms % 1000)
            lg = rng.pick(LOGGERS)
            sym = rng.pick(SYMBOLS)
            r = rng.below(10000)
            extra = []
            raw = None
            if r < errors:  # 1.5 % ERROR (1.55 % in the peer corpus)
                msg = rng.pick(ERRORS).format(oid="%08x" % rng.below(1 << 32), n=rng.below(10**9), sym=sym)
                level = "ERROR"
                if rng.below(3) == 0:
                    exc, code = rng.pick(TRACEBACKS)
                    extra = [
                        "Traceback (most recent call last):",
                        '  File "/home/bot/trader.py", line %d, in on_tick' % (100 + rng.below(400)),
                        "    self.handle(msg)",
                        '  File "/home/bot/broker.py", line %d, in place_order' % (20 + rng.below(300)),
                        "    " + code,
                        exc,
                    ]
            elif r < 300 + errors:
                level = "WARNING"
                msg = rng.pick(WARNINGS).format(ms=200 + rng.below(3000), sym=sym, bp=rng.below(90), s=1 + rng.below(9), a=1 + rng.below(5), q=rng.below(1000))
            elif r < 3500:
                level = "INFO"
                vix = max(900, min(4500, vix + rng.below(41) - 20 + (1700 - vix) // 64))  # mean-reverting
                msg = "Update VIX=%d.%02d (%+.2f) term=%s" % (vix // 100, vix % 100, (rng.below(41) - 20) / 100, rng.pick(["contango", "backwardation"]))
            elif r < 6000:
                level = "INFO"
                pnl = rng.below(400000) - 200000
                msg = "Position %s qty=%d avg=%d.%02d pnl=%s%d.%02d" % (sym, rng.below(500) + 1, 10 + rng.below(900), rng.below(100), "-" if pnl < 0 else "+", abs(pnl) // 100, abs(pnl) % 100)
            elif r < 8000:
                level = "INFO"
                oid = "%08x" % rng.below(1 << 32)
                msg = "Order %s filled %d @ %d.%02d on %s" % (oid, rng.below(200) + 1, 10 + rng.below(900), rng.below(100), sym)
            elif r < 9998:
                level = "DEBUG"
                msg = "heartbeat ok latency=%dms queue=%d" % (1 + rng.below(rng.pick([40, 40, 40, 1200])), rng.below(64))
            elif r < 9999:  # a VIX spike: 1 in 10,000
                level = "WARNING"
                msg = "Update VIX=%d.%02d spike, reducing exposure" % (25 + rng.below(20), rng.below(100))
            else:
                level = "CRITICAL"
                msg = "kill switch engaged: daily loss limit reached"
            if n % dump_every == dump_every - 1:  # a 10 KB payload dump
                level = "DEBUG"
                msg = "payload dump: " + "".join('{"px":%d,"q":%d},' % (rng.below(100000), rng.below(999)) for _ in range(600))[:10200]
            line = "%s - %s - %s - %s" % (stamp, lg, level, msg)
            if n % 2000 == 1999:  # invalid UTF-8: a cut multi-byte sequence and stray bytes
                raw = line.encode() + b" note=\xe2\x82 \xff\xfe caf\xc3"
            buf.append(raw if raw is not None else line.encode())
            n += 1
            for e in extra:
                if n >= total:
                    break
                buf.append(e.encode())
                n += 1
            if len(buf) >= 4096:
                f.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            f.write(b"\n".join(buf) + b"\n")


if __name__ == "__main__":
    main()
