"""Streaming on the run host: ``POST /run/{endpoint_id}/stream`` as Server-Sent Events.

What ``fal_client.stream()`` and ``fal.stream()`` read: every ``data:`` event
is JSON and the last one is the output. fal does not document streaming for
its Kontext apps, so the events before the output are the mock's choice:
the request's progress (``IN_QUEUE`` with its position, then ``IN_PROGRESS``
with the log lines written since the last event, and ``COMPLETED`` with the
last ones). A job that fails ends the
stream with an ``event: error`` whose data is the error body and its status
(504 ``request_timeout`` when its start deadline passed; 503 ``server_stopping``
when the server stops first).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.queue_headers import QueueHeaders
from mockserver.http.routes.fal_queue import DIALECT, finished_result, run_host_job
from mockserver.http.urls import base_url
from mockserver.sim.jobs import JobState
from mockserver.sim.stopping import ServerStopping
from mockserver.spec.documents import Operation

STOPPING_BODY = {"detail": str(ServerStopping()), "error_type": ServerStopping.error_type}


def _event(data: Any, name: str | None = None) -> str:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def run_stream(operation: Operation, ctx: AppContext) -> Endpoint:
    id_header = ctx.spec.request_id_header(operation.dialect)
    contract = ctx.spec.queue_contract(DIALECT)
    queue_headers = QueueHeaders(operation)
    settings = ctx.settings

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        job = await run_host_job(ctx, request, queue_headers)
        queue = ctx.queue
        base = base_url(request)
        stopping = queue.stopping

        async def events() -> AsyncIterator[str]:
            last: tuple[Any, ...] | None = None
            logs_sent = 0
            while True:
                view = queue.view(job, with_logs=True, step=True)
                logs = view.logs or []
                if view.state is JobState.COMPLETED:
                    if len(logs) > logs_sent:  # the run's last lines, before its output
                        yield _event({"status": view.state.value, "logs": logs[logs_sent:]})
                    break
                progress = (view.state, view.queue_position, len(logs))
                if progress != last:
                    event: dict[str, Any] = {"status": view.state.value}
                    if view.queue_position is not None:
                        event["queue_position"] = view.queue_position
                    if view.state is JobState.IN_PROGRESS:
                        event["logs"] = logs[logs_sent:]
                        logs_sent = len(logs)
                    yield _event(event)
                    last = progress
                if await stopping.sleep(settings.stream_poll_seconds):
                    # Said, not just ended: a client takes a stream's last event for the output.
                    yield _event({**STOPPING_BODY, "status": 503}, "error")
                    return
            code, result = await finished_result(queue, job, base, contract)
            if job.failure is not None:
                yield _event({**result, "status": code}, "error")
            else:
                yield _event(result)

        headers = {id_header: job.id, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {"fal.run_stream": run_stream}
