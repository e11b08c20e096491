"""What the scenario check costs a status poll.

    python benchmarks/faults_overhead.py [--polls N]

Measures status polls per second against one in-process server in three
set-ups, and reports each as a ratio to the first (measured in the same run):
no rules at all; a global rule that never matches (every request is checked
against it); a rule for another test id (this client's requests skip the
check).
"""

from __future__ import annotations

import argparse
import time

import httpx

from mockserver.testing import MockServer

ENDPOINT = "fal-ai/flux-pro/kontext/max/text-to-image"
NEVER = {"match": {"prompt": "^never matches$"}, "effect": {"type": "error", "status": 500}}


def polls_per_second(http: httpx.Client, status_url: str, polls: int) -> float:
    for _ in range(20):  # warm up the connection
        http.get(status_url)
    start = time.perf_counter()
    for _ in range(polls):
        http.get(status_url)
    return polls / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=2000)
    args = parser.parse_args()
    with MockServer(time_scale=0) as server, httpx.Client(base_url=server.url) as http:
        status_url = http.post(f"/{ENDPOINT}", json={"prompt": "bench"}).json()["status_url"]
        results: list[tuple[str, float]] = []
        results.append(("no rules (baseline)", polls_per_second(http, status_url, args.polls)))
        http.post("/_mock/scenarios", json=NEVER)
        results.append(("global rule, never matching", polls_per_second(http, status_url, args.polls)))
        http.delete("/_mock/scenarios")
        http.post("/_mock/scenarios", json=NEVER, headers={"X-Mock-Test-Id": "someone-else"})
        results.append(("rule of another test", polls_per_second(http, status_url, args.polls)))
    baseline = results[0][1]
    for name, rate in results:
        print(f"{name:32} {rate:8.0f} polls/s   x{rate / baseline:.2f}")


if __name__ == "__main__":
    main()
