"""CPU per request without sockets: the real uvicorn protocol, fed in-process.

    .venv/bin/python benchmarks/inprocess.py mock --phase submit -n 40000
    .venv/bin/python benchmarks/inprocess.py mock --fill 100000   # into a full store
    .venv/bin/python benchmarks/inprocess.py ceiling --phase status

The server's protocol (the one ``make_server`` picks) is driven with a
transport that only counts answers: 32 connections each get a request, the
loop runs until all 32 are answered, again and again. What is timed is the
process's CPU time per request: the app, the framework and uvicorn's Python,
without the system calls and wake-ups a load test adds (which, on this kind
of machine, multiply every figure by about 1.4 and hide small changes in
noise). Use it to compare two versions of the code one after the other, then
confirm with ``run.py``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from uvicorn.config import Config  # noqa: E402
from uvicorn.server import ServerState  # noqa: E402

from mockserver.runtime.server import _http_protocol, fast_stack, tune_gc  # noqa: E402

SUBMIT_PATH = "/fal-ai/flux-pro/kontext/max/text-to-image"
BODY = json.dumps({"prompt": "a lighthouse at dusk", "seed": 42}).encode()


def request(method: str, path: str, body: bytes = b"") -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1:8000", "Connection: keep-alive"]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class CountingTransport(asyncio.Transport):
    """Takes what the server writes and counts the answers that are complete (head and body)."""

    def __init__(self, answered: Any) -> None:
        super().__init__()
        self.answered = answered
        self.first: bytes | None = None

    # As little work as possible here: this runs in the timed process too.
    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.first is None:
            self.first = bytes(data)
        if data[-4:] == b"\r\n\r\n" and data[:9] == b"HTTP/1.1 ":
            return  # a head alone, its body still to come
        self.answered()

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        if self.first is None:
            self.first = b"".join(list_of_data)
        self.answered()  # (the joined head and body of one answer)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 50000)}.get(name, default)

    def is_closing(self) -> bool:
        return False

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def close(self) -> None:
        pass


def load_app(which: str) -> Any:
    if which == "ceiling":
        import ceiling

        return ceiling.app
    from mockserver.config import Settings
    from mockserver.http.app import create_app

    return create_app(Settings(time_scale=0.0))


async def measure(app: Any, phase: str, count: int, connections: int, fill: int = 0) -> tuple[float, bytes]:
    # No access log, as `flux-mock serve` has none: formatting it would be timed too.
    http = _http_protocol(fast_stack())
    config = Config(app, http=http, lifespan="off", proxy_headers=False, log_level="warning", access_log=False)
    config.load()
    state = ServerState()
    loop = asyncio.get_running_loop()
    waiting = [0]
    done: list[asyncio.Future[None]] = []

    def answered() -> None:
        waiting[0] -= 1
        if waiting[0] == 0 and not done[-1].done():
            done[-1].set_result(None)

    protocols = []
    transports = []
    for _ in range(connections):
        protocol = config.http_protocol_class(config=config, server_state=state, app_state={})  # type: ignore[call-arg]
        transport = CountingTransport(answered)
        protocol.connection_made(transport)
        protocols.append(protocol)
        transports.append(transport)

    async def rounds(requests: list[bytes], total: int) -> None:
        for n in range(total // connections):
            done.append(loop.create_future())
            waiting[0] = connections
            for k, protocol in enumerate(protocols):
                protocol.data_received(requests[(n * connections + k) % len(requests)])
            await done[-1]

    submit = request("POST", SUBMIT_PATH, BODY)
    # A store this full first (at its cap, a full store then evicts a hundredth of it at a time),
    # before the jobs that status and result phases read are submitted, so those stay.
    await rounds([submit], fill)
    if phase == "submit":
        requests = [submit]
    else:
        ids = []
        for _ in range(10):  # 320 jobs, read back from their answers
            for transport in transports:
                transport.first = None
            await rounds([submit], connections)
            for transport in transports:
                assert transport.first is not None
                ids.append(json.loads(transport.first.split(b"\r\n\r\n", 1)[1])["request_id"])
        tail = "/status" if phase == "status" else ""
        requests = [request("GET", f"/fal-ai/flux-pro/requests/{i}{tail}") for i in ids]
    await rounds(requests, 3_000)  # warm up
    gc.collect()
    for transport in transports:
        transport.first = None
    started = time.process_time()
    await rounds(requests, count)
    spent = time.process_time() - started
    sample = transports[0].first or b""
    return spent / count * 1e6, sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("which", choices=["mock", "ceiling"])
    parser.add_argument("--phase", choices=["submit", "status", "result"], default="submit")
    parser.add_argument("-n", "--count", type=int, default=40_000, help="requests timed (default 40,000)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument(
        "--fill", type=int, default=0,
        help="jobs submitted before timing (100000: a store at its default cap, as in run.py's later rounds)",
    )
    args = parser.parse_args()
    app = load_app(args.which)
    tune_gc()  # as a serving process does
    job = measure(app, args.phase, args.count, args.connections, args.fill)
    try:
        import uvloop
    except ImportError:  # the plain loop: slower, still comparable with itself
        micros, sample = asyncio.run(job)
    else:
        micros, sample = uvloop.run(job)
    status = sample.split(b"\r\n", 1)[0].decode(errors="replace")
    print(f"{args.which} {args.phase}: {micros:.2f} µs of CPU per request ({status})")


if __name__ == "__main__":
    main()
