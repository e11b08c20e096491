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
from mockserver.http.errors import ApiError
from mockserver.http.queue_headers import QueueHeaders
from mockserver.http.routes.fal_queue import DIALECT, finished_result
from mockserver.http.scenario_gate import ruling_of
from mockserver.http.urls import base_url
from mockserver.sim.jobs import JobState
from mockserver.sim.stopping import ServerStopping
from mockserver.spec.documents import Operation

STOPPING_BODY = {"detail": str(ServerStopping()), "error_type": "server_stopping"}


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
        place = queue_headers.read(request)
        endpoint_id = request.path_params["endpoint_id"]
        model_op = ctx.spec.model(endpoint_id)
        if model_op is None or model_op.model is None:
            raise ApiError(404, f"Not found: no model endpoint {endpoint_id!r} on the run host", "route_not_found")
        body = await ctx.read_valid_body(request, model_op)
        queue = ctx.queue
        fetched = await queue.prefetch(model_op.model, body)
        ruling = ruling_of(request)
        job = queue.submit(
            model_op.model, body, fetched=fetched, test_id=ruling.test_id, directives=ruling.decision.job,
            start_timeout=place.start_timeout, low_priority=place.low_priority,
        )
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
