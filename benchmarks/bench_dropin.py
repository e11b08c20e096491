"""Cost of the drop-in paths, as ratios to plain HTTP measured in the same run.

    python benchmarks/bench_dropin.py [--polls N]

- HTTPS (``serve --tls``) status polls vs plain HTTP polls, one keep-alive client each;
- status polls through the ``@fal-ai/client`` proxy route vs direct polls.
"""

from __future__ import annotations

import argparse
import ssl
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from mockserver.testing import MockServer

T2I = "fal-ai/flux-pro/kontext/max/text-to-image"


def polls_per_second(client: httpx.Client, poll: Callable[[httpx.Client], httpx.Response], count: int) -> float:
    for _ in range(20):  # warm up the connection and the code paths
        poll(client)
    start = time.perf_counter()
    for _ in range(count):
        poll(client)
    return count / (time.perf_counter() - start)


def status_poller(base: str, request_id: str, proxied: bool) -> Callable[[httpx.Client], httpx.Response]:
    path = f"/fal-ai/flux-pro/requests/{request_id}/status"
    if proxied:
        headers = {"x-fal-target-url": f"https://queue.fal.run{path}"}
        return lambda client: client.get(f"{base}/api/fal/proxy", headers=headers)
    return lambda client: client.get(f"{base}{path}")


def submit(client: httpx.Client, base: str) -> str:
    answer = client.post(f"{base}/{T2I}", json={"prompt": "bench"})
    answer.raise_for_status()
    return str(answer.json()["request_id"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=2000)
    count = parser.parse_args().polls
    with tempfile.TemporaryDirectory() as state, MockServer(time_scale=0) as plain, MockServer(
        time_scale=0, tls_state_dir=Path(state)
    ) as tls:
        assert tls.tls is not None
        trusting = ssl.create_default_context(cafile=str(tls.tls.ca_cert))
        with httpx.Client() as http_client, httpx.Client(verify=trusting) as tls_client:
            plain_id = submit(http_client, plain.url)
            tls_id = submit(tls_client, tls.url)
            direct = polls_per_second(http_client, status_poller(plain.url, plain_id, False), count)
            proxied = polls_per_second(http_client, status_poller(plain.url, plain_id, True), count)
            secure = polls_per_second(tls_client, status_poller(tls.url, tls_id, False), count)
    print(f"status polls, {count} each, one keep-alive client")
    print(f"  plain HTTP (baseline)  {direct:8.0f}/s  1.00")
    print(f"  HTTPS                  {secure:8.0f}/s  {secure / direct:.2f}")
    print(f"  via the proxy route    {proxied:8.0f}/s  {proxied / direct:.2f}")


if __name__ == "__main__":
    main()
