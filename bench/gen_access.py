#!/usr/bin/env python3
"""Writes an nginx access log (combined format with $request_time at the end) for the
benchmark of `value` and `ratio` rules, identical on every run (its own xorshift PRNG).

    python3 bench/gen_access.py OUT [LINES]        (LINES defaults to 1,000,000)

10 requests a second from 2026-11-23 00:00:00 UTC (1,000,000 lines are 27.8 hours). Request
times are 0.010-0.500 s; 1 in 500 requests is a 503. Every 6 hours, for 10 minutes, 5 % of
requests are 503 (from hour 1, then 7, 13, ...), and for 10 minutes 20 % of requests take
2.5-4 s (from hour 3, then 9, 15, ...).
"""

import sys

MASK = (1 << 64) - 1


class Rng:
    """xorshift64*: fixed seed, same sequence on every Python version."""

    def __init__(self, seed):
        self.s = seed & MASK or 1

    def unit(self):
        s = self.s
        s ^= s >> 12
        s ^= (s << 25) & MASK
        s ^= s >> 27
        self.s = s
        return ((s * 0x2545F4914F6CDD1D) & MASK) / 2.0**64


ENDPOINTS = ["api", "orders", "login", "static", "search"]


def main():
    out = sys.argv[1]
    lines = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000
    rng = Rng(0x9E3779B97F4A7C15)
    with open(out, "w") as f:
        buf = []
        for i in range(lines):
            sec = i // 10
            phase = sec % (6 * 3600)
            errors = 3600 <= phase < 3600 + 600
            slow = 3 * 3600 <= phase < 3 * 3600 + 600
            status = 503 if (errors and i % 20 == 0) or i % 500 == 7 else 200
            if slow and rng.unit() < 0.2:
                t = 2.5 + 1.5 * rng.unit()
            else:
                t = 0.01 + 0.49 * rng.unit()
            day, rest = divmod(sec, 86400)
            h, m, s = rest // 3600, rest // 60 % 60, rest % 60
            ep = ENDPOINTS[i % len(ENDPOINTS)]
            buf.append(
                f'10.0.{i % 250}.{i % 199} - - [{23 + day}/Nov/2026:{h:02}:{m:02}:{s:02} +0000] '
                f'"GET /{ep}/{i} HTTP/1.1" {status} 512 "-" "curl/8" {t:.3f}\n'
            )
            if len(buf) >= 10000:
                f.write("".join(buf))
                buf.clear()
        f.write("".join(buf))


if __name__ == "__main__":
    main()
