"""Serving load test: N concurrent clients against `modelyard serve`, with dynamic batching and
without it (--max-batch-size 1), one after the other, same run, same requests.

Each client sends one record per request (a row of --data, round robin) as fast as answers
come back, for --seconds. Prints requests/s, p50/p99 latency and errors per setting, and the
throughput ratio of batching over none. Default run: the fine-tuned MiniLM of the fortunes
example (train it first: modelyard train examples/fortunes/finetune_minilm.yaml).

    python bench/serve_load.py [--run runs/fortunes_finetune_minilm]
        [--data examples/fortunes/data/fortunes.csv] [--clients 32] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time

import httpx
import pandas as pd


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: str, port: int, batch: int, wait_ms: float) -> subprocess.Popen:
    command = [sys.executable, "-m", "modelyard", "serve", run, "--port", str(port)]
    command += ["--max-batch-size", str(batch), "--max-wait-ms", str(wait_ms)]
    server = subprocess.Popen(command, stderr=subprocess.DEVNULL, env={**os.environ})
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


async def load(url: str, records: list[dict], clients: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def client(index: int, http: httpx.AsyncClient) -> None:
        nonlocal errors
        i = index
        while time.perf_counter() < stop:
            body = {"records": [records[i % len(records)]]}
            start = time.perf_counter()
            try:
                response = await http.post(f"{url}/predict", json=body)
                ok = response.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - start)
            errors += not ok
            i += clients

    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(timeout=120, limits=limits) as http:
        began = time.perf_counter()
        await asyncio.gather(*(client(k, http) for k in range(clients)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(latencies),
        "errors": errors,
        "requests/s": len(latencies) / elapsed,
        "p50 ms": 1000 * statistics.median(latencies),
        "p99 ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="runs/fortunes_finetune_minilm")
    parser.add_argument("--data", default="examples/fortunes/data/fortunes.csv")
    parser.add_argument("--column", default="text", help="the text input's name")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--wait-ms", type=float, default=25)
    args = parser.parse_args()
    frame = pd.read_csv(args.data)
    records = [{args.column: str(t)} for t in frame[args.column].head(2000)]
    results = {}
    for name, batch in (("dynamic batching", args.batch), ("no batching", 1)):
        port = free_port()
        server = start_server(args.run, port, batch, args.wait_ms)
        try:
            url = f"http://127.0.0.1:{port}"
            asyncio.run(load(url, records, args.clients, 3))  # warm-up
            results[name] = asyncio.run(load(url, records, args.clients, args.seconds))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"{args.clients} clients, {args.seconds:g} s each, run {args.run}")
    print(
        f"{'setting':18s} {'requests':>9s} {'errors':>7s} {'req/s':>8s} {'p50 ms':>8s} {'p99 ms':>8s}"
    )
    for name, r in results.items():
        print(
            f"{name:18s} {r['requests']:9d} {r['errors']:7d} {r['requests/s']:8.1f} {r['p50 ms']:8.1f} {r['p99 ms']:8.1f}"
        )
    ratio = results["dynamic batching"]["requests/s"] / results["no batching"]["requests/s"]
    print(f"throughput, dynamic batching / none: {ratio:.2f}x")


if __name__ == "__main__":
    main()
