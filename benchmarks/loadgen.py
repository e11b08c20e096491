"""A small HTTP/1.1 load generator: keep-alive connections, one request in flight each.

Runs in its own process (the benchmark starts it with ``python loadgen.py``,
the plan as JSON on stdin, the figures as JSON on stdout), so it never shares
an interpreter with the server it measures. It writes pre-built request bytes
and parses only what it must (status line, Content-Length or the chunked
terminator), which keeps one core of it well ahead of one core of server.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from typing import Any

try:
    import uvloop
except ImportError:  # the plain loop is slower but still measures the same thing
    uvloop = None  # type: ignore[assignment]


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far (Linux), or None when unknown."""
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def sample_cpu(pid: int | None, at: float, box: list[float | None]) -> None:
    await asyncio.sleep(max(0.0, at - time.perf_counter()))
    box.append(cpu_seconds(pid))


def build_request(host: str, req: dict[str, Any]) -> bytes:
    body = req.get("body")
    data = json.dumps(body).encode() if body is not None else b""
    lines = [f"{req['method']} {req['path']} HTTP/1.1", f"Host: {host}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in req.get("headers", {}).items()]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


class Conn(asyncio.Protocol):
    def __init__(self) -> None:
        self.buf = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not an asyncio.Transport subclass

    def data_received(self, data: bytes) -> None:
        self.buf += data
        self._check()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("closed"))

    def _check(self) -> None:
        if self.waiter is None or self.waiter.done():
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(self.buf[:end]).lower()
        status = int(head[9:12])
        mark = head.find(b"\r\ncontent-length:")
        if mark >= 0:
            stop = head.find(b"\r\n", mark + 2)
            length = int(head[mark + 17 : stop if stop > 0 else None])
            total = end + 4 + length
            if len(self.buf) < total:
                return
            del self.buf[:total]
        elif b"transfer-encoding: chunked" in head:
            tail = self.buf.find(b"0\r\n\r\n", end + 4)
            if tail < 0:
                return
            del self.buf[: tail + 5]
        else:
            del self.buf[: end + 4]
        self.waiter.set_result(status)

    async def send(self, payload: bytes) -> int:
        self.waiter = asyncio.get_running_loop().create_future()
        assert self.transport is not None
        self.transport.write(payload)
        return await self.waiter


async def worker(
    host: str, port: int, payloads: list[bytes], offset: int, stop_at: float, warm_until: float,
    latencies: list[int], codes: dict[int, int], budget: list[int],
) -> None:
    loop = asyncio.get_running_loop()
    _, conn = await loop.create_connection(Conn, host, port)
    i = offset
    n = len(payloads)
    clock = time.perf_counter_ns
    while True:
        now = time.perf_counter()
        if now >= stop_at or budget[0] <= 0:
            break
        budget[0] -= 1
        t0 = clock()
        status = await conn.send(payloads[i % n])
        i += 1
        if now >= warm_until:
            latencies.append(clock() - t0)
            codes[status] = codes.get(status, 0) + 1
    assert conn.transport is not None
    conn.transport.close()


async def run(plan: dict[str, Any]) -> dict[str, Any]:
    host, port = plan["host"], int(plan["port"])
    header_host = f"{host}:{port}"
    payloads = [build_request(header_host, r) for r in plan["requests"]]
    latencies: list[int] = []
    codes: dict[int, int] = {}
    start = time.perf_counter()
    warm_until = start + float(plan.get("warmup", 1.0))
    stop_at = warm_until + float(plan["duration"])
    conns = int(plan["connections"])
    step = max(1, len(payloads) // conns)
    pid = plan.get("server_pid")
    budget = [int(plan.get("total", 1 << 62))]  # stop after this many requests
    cpu: list[float | None] = []
    await asyncio.gather(
        sample_cpu(pid, warm_until, cpu),
        *(worker(host, port, payloads, k * step, stop_at, warm_until, latencies, codes, budget) for k in range(conns)),
    )
    cpu.append(cpu_seconds(pid))
    elapsed = time.perf_counter() - warm_until
    server_cpu = cpu[1] - cpu[0] if cpu[0] is not None and cpu[1] is not None else None
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] / 1e6 if latencies else float("nan")

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        # Requests per second of server CPU: unlike rps, it holds still when other
        # work on the machine takes CPU away from the server.
        "per_cpu_s": len(latencies) / server_cpu if server_cpu else None,
        "server_cpu_s": server_cpu,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "codes": {str(k): v for k, v in sorted(codes.items())},
    }


def main() -> None:
    plan = json.load(sys.stdin)
    result = uvloop.run(run(plan)) if uvloop is not None else asyncio.run(run(plan))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
