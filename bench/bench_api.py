"""Load run against the local API server: latency percentiles and throughput of town gaps.

Starts the real server (uvicorn, one worker, sample county) on a free loopback port unless
``--url`` names a running one, warms every town's gap answer, then lets ``--clients``
concurrent keep-alive connections ask ``GET /regions/{region}/towns/{town}/gaps`` (towns by
Chinese name, in rotation) for ``--seconds``. The client is a minimal HTTP/1.1 loop on
asyncio streams, so the client's own overhead stays small next to the server's.

    .venv/bin/python bench/bench_api.py                  # p95 target: < 50 ms warm, 0 errors
    .venv/bin/python bench/bench_api.py --clients 64 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from tests.api_harness import LocalServer  # noqa: E402

TARGET_P95_MS = 50.0
RESULTS = ROOT / "bench" / "results" / "api.json"


def _parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", help="A running server (default: start one on a free port).")
    p.add_argument("--region", default="sample")
    p.add_argument("--clients", type=int, default=32, help="Concurrent connections.")
    p.add_argument("--seconds", type=float, default=10.0, help="Measured duration.")
    p.add_argument("--warmup", type=float, default=2.0, help="Unmeasured load first.")
    p.add_argument("--query", default="", help="Query string for every request, e.g. tier=站.")
    p.add_argument("--out", type=Path, default=RESULTS, help="Where to write the JSON result.")
    return p.parse_args(argv)


async def _client(
    host: str, port: int, requests: list[bytes], start: int, stop_at: float, warm_until: float
) -> tuple[list[float], int, int]:
    latencies: list[float] = []
    errors = 0
    warm = 0
    reader, writer = await asyncio.open_connection(host, port)
    i = start
    try:
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                break
            request = requests[i % len(requests)]
            i += 1
            try:
                writer.write(request)
                await writer.drain()
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                await reader.readexactly(length)
                ok = status == 200 and length > 0
            except (OSError, asyncio.IncompleteReadError, ValueError):
                ok = False
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            t1 = time.perf_counter()
            if t0 < warm_until:
                warm += 1
                continue
            latencies.append(t1 - t0)
            errors += not ok
    finally:
        writer.close()
    return latencies, errors, warm


async def _load(
    host: str, port: int, paths: list[str], *, clients: int, seconds: float, warmup: float
) -> dict[str, Any]:
    requests = [
        f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept: application/geo+json\r\n\r\n".encode()
        for p in paths
    ]
    now = time.perf_counter()
    warm_until = now + warmup
    stop_at = warm_until + seconds
    done = await asyncio.gather(
        *(_client(host, port, requests, k, stop_at, warm_until) for k in range(clients))
    )
    latencies = np.array([x for lat, _, _ in done for x in lat]) * 1000.0
    errors = sum(e for _, e, _ in done)
    return {
        "requests": len(latencies),
        "errors": int(errors),
        "seconds": seconds,
        "rps": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 2),
        "p95_ms": round(float(np.percentile(latencies, 95)), 2),
        "p99_ms": round(float(np.percentile(latencies, 99)), 2),
        "max_ms": round(float(latencies.max()), 2),
        "mean_ms": round(float(latencies.mean()), 2),
    }


def run(
    url: str,
    *,
    region: str = "sample",
    clients: int = 32,
    seconds: float = 10.0,
    warmup: float = 2.0,
    query: str = "",
) -> dict[str, Any]:
    """Load ``url`` with ``clients`` connections asking for town gaps; return the figures."""
    towns = httpx.get(f"{url}/regions/{region}/towns", timeout=60).json()["towns"]
    suffix = f"?{quote(query, safe='=&')}" if query else ""
    paths = [f"/regions/{region}/towns/{quote(t['name'])}/gaps{suffix}" for t in towns]
    sizes = []
    with httpx.Client(base_url=url, timeout=120) as client:
        for path in paths:  # compute every answer once: the run measures warm answers
            response = client.get(path)
            response.raise_for_status()
            sizes.append(len(response.content))
    parts = urlsplit(url)
    figures = asyncio.run(
        _load(
            parts.hostname or "127.0.0.1",
            parts.port or 80,
            paths,
            clients=clients,
            seconds=seconds,
            warmup=warmup,
        )
    )
    return {
        "endpoint": f"GET /regions/{region}/towns/{{town}}/gaps{suffix}",
        "towns": len(paths),
        "clients": clients,
        "response_kb_mean": round(float(np.mean(sizes)) / 1024, 1),
        **figures,
        "target_p95_ms": TARGET_P95_MS,
        "ok": figures["errors"] == 0 and figures["p95_ms"] < TARGET_P95_MS,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the load test (a fresh server unless ``--url``), print and save the figures."""
    args = _parse(argv or [])
    common = {
        "region": args.region,
        "clients": args.clients,
        "seconds": args.seconds,
        "warmup": args.warmup,
        "query": args.query,
    }
    if args.url:
        result = run(args.url.rstrip("/"), **common)
        server = {"url": args.url}
    else:
        with LocalServer() as local:
            result = run(local.url, **common)
        server = {"url": "local", "workers": 1, "access_log": False}
    result["server"] = server
    result["machine"] = {"python": platform.python_version(), "cpus": _cpus()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(
        f"api load: {result['endpoint']} x {result['towns']} towns, {result['clients']} clients, "
        f"{result['seconds']:g} s\n"
        f"  {result['requests']:,} requests, {result['rps']:,.0f} req/s, errors {result['errors']}\n"
        f"  latency ms: p50 {result['p50_ms']}  p95 {result['p95_ms']}  p99 {result['p99_ms']}  "
        f"max {result['max_ms']}  (target p95 < {TARGET_P95_MS:g})  "
        f"{'OK' if result['ok'] else 'MISSED'}\n"
        f"  written to {args.out}"
    )
    return result


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(0 if main(sys.argv[1:])["ok"] else 1)
