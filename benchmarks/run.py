"""Throughput and latency of the mock, its framework ceiling and aimock, in one run.

    make bench                      # or: .venv/bin/python benchmarks/run.py
    .venv/bin/python benchmarks/run.py --duration 5 --connections 32 --markdown

Three servers answer the same three queue calls (submit, status poll, result)
of fal's queue API:

- **mock**: ``flux-mock serve --time-scale 0`` (validation, scheduling, links);
- **ceiling**: bare Starlette on the same uvicorn stack answering those routes
  with constant JSON (benchmarks/ceiling.py) — the framework's upper bound;
- **aimock**: the ``@copilotkit/aimock`` npm package, installed by this script
  into a throwaway folder (needs ``npm``), serving a fixture under ``/fal``
  with ``x-fal-target-host: queue.fal.run``. It neither validates nor renders.

Method: each server runs in its own process; the load generator
(benchmarks/loadgen.py) runs in another, with N keep-alive connections and
one request in flight on each. On a machine with two or more cores the server
is pinned to CPU 0 and the load generator to CPU 1, so neither starves the
other. Each phase warms up for a second, then counts for ``--duration``
seconds. Status and result phases cycle through ids submitted beforehand
(results fetched once first, so the result phase measures the API, not
rendering; rendering is timed on its own).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import bench_render  # noqa: E402

SUBMIT_PATH = "/fal-ai/flux-pro/kontext/max/text-to-image"
BODY = {"prompt": "a lighthouse at dusk", "seed": 42}
AIMOCK_PACKAGE = "@copilotkit/aimock"
AIMOCK_FIXTURE = {
    "fixtures": [
        {
            "match": {"model": SUBMIT_PATH.strip("/")},
            "response": {"json": {
                "images": [{"url": "https://mock.fal.media/files/a.jpg", "width": 1024, "height": 1024,
                            "content_type": "image/jpeg"}],
                "timings": {"inference": 0}, "seed": 42, "has_nsfw_concepts": [False], "prompt": BODY["prompt"],
            }},
        }
    ]
}
SERVER_CPU, LOADGEN_CPU = 0, 1


@dataclass
class Target:
    name: str
    url: str
    prefix: str = ""  # path prefix before fal's paths
    headers: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    ids: list[str] = field(default_factory=list)

    @property
    def host_port(self) -> tuple[str, int]:
        rest = self.url.split("://", 1)[1]
        host, port = rest.rsplit(":", 1)
        return host, int(port)


def _pin(pid: int, cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > cpu:
        os.sched_setaffinity(pid, {cpu})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_listening(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def _start_python(args: list[str], name: str) -> Target:
    proc = subprocess.Popen([sys.executable, *args], stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if "listening on " not in line:
        proc.kill()
        raise RuntimeError(f"{name} did not start: {line!r}")
    url = line.split("listening on ", 1)[1].split()[0]
    _pin(proc.pid, SERVER_CPU)
    print(f"  {name}: {line.strip()}")
    return Target(name, url, process=proc)


def start_mock() -> Target:
    return _start_python(["-m", "mockserver", "serve", "--port", "0", "--time-scale", "0"], "mock")


def start_ceiling() -> Target:
    return _start_python([str(HERE / "ceiling.py"), "--port", "0"], "ceiling")


def start_aimock(folder: Path) -> Target:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed")
    cli = folder / "node_modules" / "@copilotkit" / "aimock" / "dist" / "cli.js"
    if not cli.exists():
        print(f"  installing {AIMOCK_PACKAGE} into {folder} ...")
        subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", AIMOCK_PACKAGE],
                       cwd=folder, check=True)
    fixtures = folder / "fixtures"
    fixtures.mkdir(exist_ok=True)
    (fixtures / "fal.json").write_text(json.dumps(AIMOCK_FIXTURE))
    version = json.loads((cli.parent.parent / "package.json").read_text())["version"]
    port = _free_port()
    proc = subprocess.Popen(
        ["node", str(cli), "-p", str(port), "-f", str(fixtures), "--log-level", "silent"],
        stdout=subprocess.DEVNULL, cwd=folder,
    )
    _wait_listening(port)
    _pin(proc.pid, SERVER_CPU)
    print(f"  aimock {version}: listening on http://127.0.0.1:{port} (node {_node_version()})")
    return Target("aimock", f"http://127.0.0.1:{port}", prefix="/fal",
                  headers={"x-fal-target-host": "queue.fal.run"}, process=proc)


def _node_version() -> str:
    return subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()


@contextlib.contextmanager
def running(target: Target) -> Iterator[Target]:
    try:
        yield target
    finally:
        if target.process is not None:
            target.process.terminate()
            try:
                target.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                target.process.kill()


# ---- phases ------------------------------------------------------------------


def submit_jobs(target: Target, count: int) -> list[str]:
    ids = []
    with httpx.Client(base_url=target.url, headers=target.headers, timeout=30) as client:
        for _ in range(count):
            answer = client.post(target.prefix + SUBMIT_PATH, json=BODY)
            answer.raise_for_status()
            ids.append(answer.json()["request_id"])
        for request_id in ids:  # render (mock) or complete (aimock) every result once
            client.get(f"{target.prefix}/fal-ai/flux-pro/requests/{request_id}").raise_for_status()
    return ids


def load(target: Target, requests: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    host, port = target.host_port
    plan = {"host": host, "port": port, "requests": requests, "connections": args.connections,
            "duration": args.duration, "warmup": 1.0, "server_pid": target.process.pid if target.process else None}
    proc = subprocess.Popen([sys.executable, str(HERE / "loadgen.py")], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    _pin(proc.pid, LOADGEN_CPU)
    out, _ = proc.communicate(json.dumps(plan).encode(), timeout=args.duration + 60)
    result: dict[str, Any] = json.loads(out)
    return result


def lifecycle_ms(target: Target, runs: int) -> float:
    """Median wall time of submit → status until COMPLETED → result, one client."""
    times = []
    with httpx.Client(base_url=target.url, headers=target.headers, timeout=30) as client:
        for n in range(runs + 3):
            start = time.perf_counter()
            ticket = client.post(target.prefix + SUBMIT_PATH, json={**BODY, "seed": n}).json()
            root = f"{target.prefix}/fal-ai/flux-pro/requests/{ticket['request_id']}"
            while client.get(f"{root}/status").json()["status"] != "COMPLETED":
                pass
            client.get(root).raise_for_status()
            times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times[3:])


def phase_requests(target: Target, phase: str, ids: list[str]) -> list[dict[str, Any]]:
    h, root = target.headers, f"{target.prefix}/fal-ai/flux-pro/requests"
    if phase == "submit":
        return [{"method": "POST", "path": target.prefix + SUBMIT_PATH, "headers": h, "body": BODY}]
    tail = "/status" if phase == "status" else ""
    return [{"method": "GET", "path": f"{root}/{i}{tail}", "headers": h} for i in ids]


def measure_all(targets: list[Target], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Each phase on each server in turn, ``--rounds`` times; the median round counts.

    Interleaving spreads any background load on the machine over all servers
    alike, and each ratio is the median of the ratios within a round (see
    :func:`report`), so a slow spell that hits one round does not pair one
    server's good round with another's bad one.
    """
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {t.name: {} for t in targets}
    for n in range(args.rounds):
        print(f"round {n + 1}/{args.rounds}")
        for phase in ("submit", "status", "result"):
            for target in targets:
                if phase == "status":
                    # Fresh ids each round: aimock keeps only its newest 10,000 jobs.
                    target.ids = submit_jobs(target, args.ids)
                f = load(target, phase_requests(target, phase, target.ids), args)
                runs[target.name].setdefault(phase, []).append(f)
                print(f"  {target.name:8} {phase:7} {f['rps']:7.0f} req/s {f['per_cpu_s'] or 0:7.0f} req/CPU-s  "
                      f"p50 {f['p50_ms']:6.2f} ms  p99 {f['p99_ms']:6.2f} ms  codes {f['codes']}")
    results: dict[str, dict[str, Any]] = {}
    for target in targets:
        figures: dict[str, Any] = {"rounds": runs[target.name]}
        for phase, rounds in runs[target.name].items():
            figures[phase] = sorted(rounds, key=lambda f: f["per_cpu_s"] or f["rps"])[len(rounds) // 2]
        figures["lifecycle_ms"] = lifecycle_ms(target, args.lifecycle_runs)
        print(f"  {target.name:8} lifecycle {figures['lifecycle_ms']:.2f} ms (median)")
        results[target.name] = figures
    return results


# ---- report ------------------------------------------------------------------


def _cell(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def _ratio(value: float | None, spread: list[float] | None = None) -> str:
    if value is None:
        return "-"
    if spread and len(spread) > 1:
        return f"{value:.2f}× ({spread[0]:.2f}–{spread[-1]:.2f})"
    return f"{value:.2f}×"


def round_ratios(results: dict[str, dict[str, Any]], name: str, other: str, phase: str, key: str) -> list[float]:
    """``name``'s figure over ``other``'s within each round, smallest first."""
    if name not in results or other not in results:
        return []
    pairs = zip(results[name]["rounds"][phase], results[other]["rounds"][phase], strict=True)
    return sorted(float(a[key]) / float(b[key]) for a, b in pairs if a.get(key) is not None and b.get(key))


def paired_ratio(results: dict[str, dict[str, Any]], name: str, other: str, phase: str, key: str) -> float | None:
    """The median over rounds of ``name``'s figure over ``other``'s in the same round."""
    ratios = round_ratios(results, name, other, phase, key)
    if not ratios:
        return None
    middle = len(ratios) // 2
    return ratios[middle] if len(ratios) % 2 else (ratios[middle - 1] + ratios[middle]) / 2


def report(results: dict[str, dict[str, Any]], render: dict[str, float], markdown: bool) -> None:
    names = ["mock", "ceiling", "aimock"]

    def get(name: str, phase: str, key: str) -> float | None:
        figures = results.get(name)
        if figures is None:
            return None
        value = figures[phase] if key == "" else figures[phase].get(key)
        return float(value) if value is not None else None

    rows: list[list[str]] = []
    for phase in ("submit", "status", "result"):
        for key, label, fmt in (("per_cpu_s", "req per server CPU-s", ".0f"), ("rps", "req/s (wall)", ".0f"),
                                ("p50_ms", "p50 ms", ".2f"), ("p99_ms", "p99 ms", ".2f")):
            values = [get(n, phase, key) for n in names]
            rows.append([f"{phase} {label}", *(_cell(v, fmt) for v in values),
                         *(_ratio(paired_ratio(results, "mock", other, phase, key),
                                  # the spread of the rounds, for the figure the targets read
                                  round_ratios(results, "mock", other, phase, key) if key == "per_cpu_s" else None)
                           for other in names[1:])])
    values = [get(n, "lifecycle_ms", "") for n in names]
    rows.append(["lifecycle ms (time-scale 0)", *(_cell(v, ".2f") for v in values),
                 *(_ratio(values[0] / v if values[0] is not None and v else None) for v in values[1:])])
    for fmt, ms in render.items():
        rows.append([f"render 1024² {fmt} ms (median)", f"{ms:.1f}", "-", "-", "-", "-"])
    header = ["figure", *names, "mock/ceiling", "mock/aimock"]
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for r in rows:
            print("| " + " | ".join(r) + " |")
    else:
        widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
        for r in [header, *rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
    print()

    def at_least(phase: str, other: str, share: float) -> tuple[bool, str]:
        ratio = paired_ratio(results, "mock", other, phase, "per_cpu_s")
        return ratio is not None and ratio >= share, _ratio(ratio)

    jpeg = render.get("jpeg")
    targets = [
        ("submit ≥ 60% of ceiling", *at_least("submit", "ceiling", 0.6)),
        ("submit ≥ 1.2× aimock", *at_least("submit", "aimock", 1.2)),
        ("status ≥ 70% of ceiling", *at_least("status", "ceiling", 0.7)),
        ("render JPEG ≤ 15 ms median", jpeg is not None and jpeg <= 15.0, "-" if jpeg is None else f"{jpeg:.1f} ms"),
    ]
    print("targets (throughput per server CPU-second, median of the rounds' ratios):")
    for name, ok, measured in targets:
        verdict = "not measured" if measured == "-" else "met" if ok else "MISSED"
        print(f"  {name}: {verdict} ({measured})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds measured per phase (default 3)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median counts (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="keep-alive connections (default 32)")
    parser.add_argument("--ids", type=int, default=300, help="jobs submitted before the status/result phases")
    parser.add_argument("--lifecycle-runs", type=int, default=50)
    parser.add_argument("--render-runs", type=int, default=30)
    parser.add_argument("--skip-aimock", action="store_true", help="do not install or run aimock")
    parser.add_argument("--aimock-dir", type=Path, help="reuse this folder for the aimock install")
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = parser.parse_args()

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"{args.connections} connections, {args.duration:g} s per phase")
    with contextlib.ExitStack() as stack:
        targets = [stack.enter_context(running(start_mock())), stack.enter_context(running(start_ceiling()))]
        if not args.skip_aimock:
            folder = args.aimock_dir or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="aimock-")))
            folder.mkdir(parents=True, exist_ok=True)
            try:
                targets.append(stack.enter_context(running(start_aimock(folder))))
            except (RuntimeError, subprocess.CalledProcessError) as exc:
                print(f"  aimock skipped: {exc}")
        results = measure_all(targets, args)
    render = {fmt: bench_render.median_ms(fmt, args.render_runs) for fmt in ("jpeg", "png")}
    print()
    report(results, render, args.markdown)


if __name__ == "__main__":
    main()
