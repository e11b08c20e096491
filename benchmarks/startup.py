"""Start-up time: from an imported package to the first health answer, and stop.

    .venv/bin/python benchmarks/startup.py            # 9 rounds, medians
    .venv/bin/python benchmarks/startup.py -n 15

Each round runs in a fresh interpreter, so the first start-up in it is cold
(nothing loaded yet), as a ``flux-mock serve`` or a test suite's first
``MockServer()`` is. A round times, one after the other:

- import       ``import mockserver.testing`` (reported, not in the totals)
- spec load    ``Spec.load()`` of the default documents
- app build    ``create_app`` with that spec
- serve        uvicorn built, socket bound, thread started, first health answer
- stop         ``request_stop()`` until the server thread has ended
- first mock   a whole ``MockServer()``, started, asked and stopped in the
               same interpreter, loading the default spec it shares with later ones
- again        one more: what every later mock in a test suite costs

The baseline, timed in the same round, is a bare Starlette app with one
route, served the same way (the mock's ``make_server`` on a free port) up to
its first answer, after one untimed start that pays uvicorn's own imports;
figures are printed as ratios to it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

HEALTH = "/_mock/health"


def _ask(url: str, path: str) -> int:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def _serve(app: Any) -> tuple[Any, threading.Thread, str]:
    """uvicorn on a free port in a thread, as ``MockServer.start`` does, up to its first answer."""
    from mockserver.runtime.server import bind, make_server, url_of

    server = make_server(app)
    sock = bind("127.0.0.1", 0)
    url = url_of(sock)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.001)
    return server, thread, url


def _stop(server: Any, thread: threading.Thread) -> None:
    server.request_stop()
    thread.join()


def _timed(phases: dict[str, float], name: str, step: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = step()
    phases[name] = time.perf_counter() - start
    return value


def _round() -> dict[str, float]:
    """One cold round in this interpreter: every phase in seconds."""
    phases: dict[str, float] = {}
    _timed(phases, "import", lambda: __import__("mockserver.testing"))
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from mockserver.config import Settings
    from mockserver.http.app import create_app
    from mockserver.spec.loader import Spec
    from mockserver.testing import MockServer

    def bare() -> tuple[Any, threading.Thread]:
        app = Starlette(routes=[Route(HEALTH, lambda request: JSONResponse({"status": "ok"}))])
        server, thread, url = _serve(app)
        assert _ask(url, HEALTH) == 200
        return server, thread

    _stop(*bare())  # once untimed: uvicorn's loop and protocol imports are no part of either figure
    baseline: dict[str, float] = {}
    _stop(*_timed(baseline, "start", bare))
    phases["baseline"] = baseline["start"]

    spec = _timed(phases, "spec load", Spec.load)
    app = _timed(phases, "app build", lambda: create_app(Settings(port=0, time_scale=0), spec=spec))

    def serve() -> tuple[Any, threading.Thread]:
        server, thread, url = _serve(app)
        assert _ask(url, HEALTH) == 200
        return server, thread

    server, thread = _timed(phases, "serve", serve)
    _timed(phases, "stop", lambda: _stop(server, thread))

    def again() -> None:
        mock = MockServer(time_scale=0).start()
        assert _ask(mock.url, HEALTH) == 200
        mock.stop()

    # The first MockServer of a process also loads the default spec, which later ones share.
    _timed(phases, "first mock", again)
    _timed(phases, "again", again)
    return phases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--rounds", type=int, default=9, help="fresh interpreters, one round each (default 9)")
    parser.add_argument("--round", action="store_true", help=argparse.SUPPRESS)  # the child's side
    args = parser.parse_args()
    if args.round:
        print(json.dumps(_round()))
        return
    rounds = []
    for _ in range(args.rounds):
        out = subprocess.run([sys.executable, __file__, "--round"], check=True, capture_output=True, text=True)
        rounds.append(json.loads(out.stdout.splitlines()[-1]))
    median = {name: statistics.median(r[name] for r in rounds) for name in rounds[0]}
    median["start-up"] = statistics.median(r["spec load"] + r["app build"] + r["serve"] for r in rounds)
    base = median["baseline"]
    print(f"{args.rounds} rounds, medians; baseline (bare Starlette to its first answer) {base * 1000:.1f} ms")
    for name in ("import", "spec load", "app build", "serve", "stop", "start-up", "first mock", "again"):
        print(f"  {name:<10} {median[name] * 1000:8.1f} ms  {median[name] / base:6.2f}x baseline")


if __name__ == "__main__":
    main()
