"""Large uploads through the real fal-client: time, and the server's memory while they come in.

    .venv/bin/python benchmarks/bench_upload.py [--mb 110] [--single-mb 95]

Starts ``flux-mock serve`` in a subprocess (its state directory a temporary
one), uploads ``--mb`` MB of random bytes with ``fal_client.upload`` (above
the client's 100 MiB threshold: a multipart upload, ten 10 MiB parts at a
time) and ``--single-mb`` MB (below it: one POST), fetches each back and
compares digests. The server's RSS is sampled every 5 ms from
``/proc/<pid>/status`` during each upload, and its high-water mark (VmHWM)
read before and after: the uploads stream to disk, so the peak should stay
near the idle RSS whatever the size.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import fal_client
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mockserver.testing import point_fal_client  # noqa: E402  # the checkout's, not an installed copy

MB = 1000 * 1000


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field}")


class Sampler:
    """The highest VmRSS seen while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, status_kb(self.pid, "VmRSS"))
            self._stop.wait(0.005)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def digest_of(url: str) -> str:
    digest = hashlib.sha256()
    with httpx.stream("GET", url, timeout=120) as answer:
        answer.raise_for_status()
        for chunk in answer.iter_bytes():
            digest.update(chunk)
    return digest.hexdigest()


def measure(pid: int, label: str, size: int) -> None:
    data = os.urandom(size)
    expected = hashlib.sha256(data).hexdigest()
    hwm_before = status_kb(pid, "VmHWM")
    with Sampler(pid) as sampler:
        started = time.perf_counter()
        url = fal_client.upload(data, "application/octet-stream", f"{label}.bin")
        took = time.perf_counter() - started
    hwm_after = status_kb(pid, "VmHWM")
    same = digest_of(url) == expected
    print(
        f"{label}: {size / MB:.0f} MB in {took:.2f} s ({size / MB / took:.0f} MB/s), byte for byte: {same}; "
        f"server RSS peak {sampler.peak_kb / 1024:.0f} MiB sampled, VmHWM {hwm_before / 1024:.0f} -> "
        f"{hwm_after / 1024:.0f} MiB"
    )
    if not same:
        raise SystemExit("the upload did not round-trip")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=110, help="size of the multipart upload, in MB (default 110)")
    parser.add_argument("--single-mb", type=float, default=95, help="size of the one-request upload (default 95)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        proc = subprocess.Popen(
            [sys.executable, "-m", "mockserver", "serve", "--port", "0", "--state-dir", state],
            stdout=subprocess.PIPE, cwd=ROOT,
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().decode().split("listening on ", 1)[1].split()[0]
            httpx.get(f"{url}/_mock/health").raise_for_status()
            print(f"mock at {url}, pid {proc.pid}; idle RSS {status_kb(proc.pid, 'VmRSS') / 1024:.0f} MiB")
            os.environ.setdefault("FAL_KEY", "bench")
            with point_fal_client(url):
                measure(proc.pid, "multipart", int(args.mb * MB))
                measure(proc.pid, "single", int(args.single_mb * MB))
            left = [p for p in Path(state, "uploads").rglob("*") if p.is_file()]
            print(f"files on disk in the state directory's uploads/: {len(left)}")
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        print(f"after the mock stopped, uploads/ holds: {sorted(os.listdir(Path(state, 'uploads')))}")


if __name__ == "__main__":
    main()
