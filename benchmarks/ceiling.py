"""The framework's ceiling: bare Starlette on the mock's server stack, constant JSON.

It answers the routes the benchmark drives (submit, status, result) with
fixed bodies of the same shape and size as the mock's, doing no work of its
own, so "mock / ceiling" says how much of Starlette + uvicorn the mock keeps.

    python benchmarks/ceiling.py --port 0    # prints the URL it listens on
"""

from __future__ import annotations

import argparse
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mockserver.runtime.server import bind, fast_stack, make_server, url_of

RID = "551a32da-52b2-4be8-bf2f-bfb7cce2b324"
ROOT = f"http://127.0.0.1:8000/fal-ai/flux-pro/requests/{RID}"
LINKS = {"request_id": RID, "response_url": ROOT, "status_url": f"{ROOT}/status", "cancel_url": f"{ROOT}/cancel"}
SUBMITTED: dict[str, Any] = {"status": "IN_QUEUE", **LINKS, "logs": None, "metrics": {}, "queue_position": 0}
STATUS: dict[str, Any] = {"status": "COMPLETED", **LINKS, "logs": None, "metrics": {"inference_time": 5.0}}
RESULT: dict[str, Any] = {
    "images": [
        {
            "url": f"http://127.0.0.1:8000/files/{'0' * 24}/kontext-42-0.jpg",
            "width": 1024, "height": 1024, "content_type": "image/jpeg",
            "file_name": "kontext-42-0.jpg", "file_size": 61234,
        }
    ],
    "timings": {"inference": 5.0},
    "seed": 42,
    "has_nsfw_concepts": [False],
    "prompt": "a lighthouse at dusk",
}
HEADERS = {"x-fal-request-id": RID}


async def submit(request: Request) -> Response:
    await request.body()
    return JSONResponse(SUBMITTED, headers=HEADERS)


async def status(request: Request) -> Response:
    return JSONResponse(STATUS, headers=HEADERS)


async def result(request: Request) -> Response:
    return JSONResponse(RESULT, headers=HEADERS)


app = Starlette(
    routes=[
        Route("/fal-ai/flux-pro/kontext/max/text-to-image", submit, methods=["POST"]),
        Route("/{owner}/{app}/requests/{request_id}/status", status, methods=["GET"]),
        Route("/{owner}/{app}/requests/{request_id}", result, methods=["GET"]),
    ]
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    sock = bind(args.host, args.port)
    print(f"ceiling listening on {url_of(sock)} ({fast_stack()})", flush=True)
    make_server(app).run(sockets=[sock])


if __name__ == "__main__":
    main()
