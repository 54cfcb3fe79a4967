#!/usr/bin/env python3
"""Protego (Scrapy's robots.txt parser) on the same robots.txt, paths and agents as the .NET benchmark.

Prints parse time, can_fetch checks per second and the answers' digest, as key=value lines.
Usage: python3 protego_bench.py robots-200.txt paths.txt [seconds]
"""
import hashlib
import sys
import time

from protego import Protego

AGENTS = ["GPTBot", "Googlebot", "ExampleCrawler", "ExampleCrawler"]
ORIGIN = "https://www.example-news.test"


def main():
    robots = open(sys.argv[1], encoding="utf-8").read()
    paths = [p for p in open(sys.argv[2], encoding="utf-8").read().split("\n") if p]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 3.0
    urls = [ORIGIN + p for p in paths]

    # Parse time: repeat for about a second, report the mean.
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < 1.0:
        Protego.parse(robots)
        n += 1
    parse_us = (time.perf_counter() - start) / n * 1e6

    rp = Protego.parse(robots)
    answers = hashlib.sha256()
    allowed = 0
    for i, u in enumerate(urls):
        ok = rp.can_fetch(u, AGENTS[i % len(AGENTS)])
        allowed += ok
        answers.update(b"1" if ok else b"0")

    checks, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for i, u in enumerate(urls):
            rp.can_fetch(u, AGENTS[i & 3])
        checks += len(urls)
    elapsed = time.perf_counter() - start

    print(f"protego.parse_us={parse_us:.1f}")
    print(f"protego.checks_per_s={checks / elapsed:.0f}")
    print(f"protego.allowed={allowed}/{len(urls)}")
    print(f"protego.answers_sha256={answers.hexdigest()[:16]}")


if __name__ == "__main__":
    main()
