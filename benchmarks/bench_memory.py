"""Memory of the mock under load: RSS after 100,000 completed jobs, and over a soak.

    .venv/bin/python benchmarks/bench_memory.py jobs [--count 100000]
    .venv/bin/python benchmarks/bench_memory.py soak [--seconds 600] [--rate 200] [--retention 60]

``jobs`` submits ``--count`` text-to-image requests at --time-scale 0 (each
completes at once) through the load generator, then renders and downloads
the results of ``--rendered`` more (enough to fill the image store's cap), and
reports the server's resident memory.

``soak`` drives a steady rate of whole lifecycles (submit, status, and for
one request in ten the result and its image) for ``--seconds``, with a short
``--retention`` so that expiry runs many times over, and samples the RSS
every 10 s. Flat means: after the first retention period, no growth beyond
noise, because the stores' expiry and caps hold.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SUBMIT = "/fal-ai/flux-pro/kontext/max/text-to-image"


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def start_mock(*options: str) -> tuple[subprocess.Popen[bytes], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mockserver", "serve", "--port", "0", *options], stdout=subprocess.PIPE, cwd=ROOT
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    return proc, line.split("listening on ", 1)[1].split()[0]


def jobs(args: argparse.Namespace) -> None:
    proc, url = start_mock("--time-scale", "0")
    try:
        host, port = url.split("://")[1].rsplit(":", 1)
        print(f"mock at {url}; RSS at start {rss_mb(proc.pid):.0f} MB")
        plan = {
            "host": host, "port": int(port), "connections": 32, "duration": 3600, "warmup": 0,
            "total": args.count, "server_pid": proc.pid,
            "requests": [{"method": "POST", "path": SUBMIT, "body": {"prompt": "a lighthouse at dusk", "seed": 42}}],
        }
        started = time.perf_counter()
        out = subprocess.run([sys.executable, str(HERE / "loadgen.py")], input=json.dumps(plan).encode(),
                             capture_output=True, check=True).stdout
        figures = json.loads(out)
        took = time.perf_counter() - started
        print(f"submitted {figures['requests']} jobs in {took:.0f} s ({figures['codes']}); "
              f"RSS {rss_mb(proc.pid):.0f} MB")
        with httpx.Client(base_url=url, timeout=60) as client:
            ids = [client.post(SUBMIT, json={"prompt": f"job {n}", "seed": n}).json()["request_id"]
                   for n in range(args.rendered)]
            for request_id in ids:
                result = client.get(f"/fal-ai/flux-pro/requests/{request_id}").json()
                client.get(result["images"][0]["url"]).raise_for_status()
            health = client.get("/_mock/health").json()
        print(f"{figures['requests'] + args.rendered} completed jobs, {args.rendered} rendered and downloaded "
              "(images kept up to the --max-files-mb cap): "
              f"RSS {rss_mb(proc.pid):.0f} MB (target ≤ 250 MB); health {health['status']}")
    finally:
        proc.terminate()
        proc.wait()


async def soak_load(url: str, seconds: float, rate: float, pid: int, samples: list[tuple[float, float]]) -> int:
    done = 0
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=64)) as client:

        async def lifecycle(n: int) -> None:
            nonlocal done
            ticket = (await client.post(SUBMIT, json={"prompt": f"soak {n}", "seed": n})).json()
            await client.get(ticket["status_url"])
            if n % 10 == 0:
                result = (await client.get(ticket["response_url"])).json()
                await client.get(result["images"][0]["url"])
            done += 1

        start = time.perf_counter()
        next_sample = start
        tasks: set[asyncio.Task[None]] = set()
        n = 0
        while (now := time.perf_counter()) - start < seconds:
            due = int((now - start) * rate)
            while n < due:
                task = asyncio.create_task(lifecycle(n))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
            if now >= next_sample:
                samples.append((now - start, rss_mb(pid)))
                print(f"  t={now - start:5.0f} s  lifecycles {done:7d}  RSS {samples[-1][1]:6.1f} MB", flush=True)
                next_sample += 10
            await asyncio.sleep(0.005)
        await asyncio.gather(*tasks)
    return done


def soak(args: argparse.Namespace) -> None:
    proc, url = start_mock("--time-scale", "0", "--retention", str(args.retention))
    try:
        print(f"mock at {url}; {args.rate:g} lifecycles/s for {args.seconds:g} s, retention {args.retention:g} s")
        samples: list[tuple[float, float]] = []
        done = asyncio.run(soak_load(url, args.seconds, args.rate, proc.pid, samples))
        settled = [rss for t, rss in samples if t >= 2 * args.retention]
        print(f"{done} lifecycles; RSS first {samples[0][1]:.0f} MB, peak {max(r for _, r in samples):.0f} MB, "
              f"last {samples[-1][1]:.0f} MB")
        if settled:
            print(f"after 2× retention: min {min(settled):.0f} MB, max {max(settled):.0f} MB, "
                  f"growth {settled[-1] - settled[0]:+.1f} MB over {samples[-1][0] - 2 * args.retention:.0f} s")
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    j = commands.add_parser("jobs")
    j.add_argument("--count", type=int, default=100_000)
    j.add_argument("--rendered", type=int, default=1500)
    s = commands.add_parser("soak")
    s.add_argument("--seconds", type=float, default=600)
    s.add_argument("--rate", type=float, default=200, help="lifecycles started per second")
    s.add_argument("--retention", type=float, default=60)
    args = parser.parse_args()
    jobs(args) if args.command == "jobs" else soak(args)


if __name__ == "__main__":
    main()
