"""fal's queue API: submit, status, status stream, result, cancel and run.

Status codes of the lifecycle come from the spec's ``x-contract`` block, the
request id header from its documented response header.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from mockserver.http.bodies import read_json
from mockserver.http.context import AppContext, Endpoint, HandlerFactory, QueryChecker
from mockserver.http.errors import ApiError
from mockserver.http.queue_headers import QueueHeaders
from mockserver.http.responses import JsonResponse
from mockserver.http.scenario_gate import ruling_of
from mockserver.http.urls import base_url
from mockserver.sim.jobs import Job, JobState
from mockserver.sim.queue import CancelOutcome, JobQueue, StatusView
from mockserver.spec.contract import QueueContract
from mockserver.spec.documents import Operation, SpecError
from mockserver.spec.roles import Role
from mockserver.spec.typed_text import is_true

DIALECT = "fal"  # the x-mock-dialect of the documents these handlers serve
WEBHOOK_PARAM = "fal_webhook"
IN_QUEUE = JobState.IN_QUEUE.value  # what every submit says


def _with_links(status: str, base: str, job: Job) -> dict[str, Any]:
    """The start every queue response shares: the status, then where to find the request."""
    root = f"{base}/{job.app_path}/requests/{job.id}"
    return {
        "status": status,
        "request_id": job.id,
        "response_url": root,
        "status_url": f"{root}/status",
        "cancel_url": f"{root}/cancel",
    }


def _file_url(queue: JobQueue, base: str) -> Any:
    links = queue.links
    return lambda file_id, name: links.url(base, file_id, name)


def status_body(base: str, job: Job, view: StatusView) -> dict[str, Any]:
    body = _with_links(view.state.value, base, job)
    body["logs"] = view.logs
    body["metrics"] = {}
    if view.queue_position is not None:
        body["queue_position"] = view.queue_position
    if view.inference_time is not None:
        body["metrics"] = {"inference_time": view.inference_time}
    if view.failure is not None:
        body["error"] = view.failure.error
        body["error_type"] = view.failure.error_type
    return body


def _query(request: Request) -> Mapping[str, str]:
    """The query parameters; most queue calls have none, and Starlette's parse of an empty
    query string is a tenth of a status poll's time."""
    return request.query_params if request.scope.get("query_string") else {}


def _id_header(operation: Operation) -> str:
    """The header fal's answers carry the request id in (the spec's ``request_id`` role)."""
    return operation.document.spec.request_id_header(operation.dialect)


def _lifecycle(operation: Operation) -> QueueContract:
    """The dialect's ``x-contract``, checked to give a code for every state and cancel outcome the queue has."""
    contract = operation.document.spec.queue_contract(operation.dialect)
    missing = {state.value for state in JobState} - set(contract.status_codes)
    missing |= {outcome.value for outcome in CancelOutcome} - set(contract.cancel_outcomes)
    if missing:
        raise SpecError(f"{operation.operation_id}: x-contract gives no status code for {', '.join(sorted(missing))}")
    return contract


_REQUEST_ID_KEY = "fal.request_id"


def _note(request: Request, job: Job) -> Job:
    """Remember the job a call is about, so an error answered later still names it."""
    request.scope[_REQUEST_ID_KEY] = job.id
    return job


def request_id_of(request: Request, queue: JobQueue) -> str | None:
    """The id of the request a call is about, when one exists: the job it made or found, or the
    one its path names (an error raised before the handler looked it up)."""
    noted = request.scope.get(_REQUEST_ID_KEY)
    if isinstance(noted, str):
        return noted
    params = request.path_params
    if "request_id" in params and "owner" in params and "app" in params:
        job = queue.find(f"{params['owner']}/{params['app']}", params["request_id"])
        return job.id if job is not None else None
    return None


def _find(ctx: AppContext, request: Request, contract: QueueContract) -> Job:
    params = request.path_params
    job = ctx.queue.find(f"{params['owner']}/{params['app']}", params["request_id"])
    if job is None:
        raise ApiError(contract.unknown_request, "Request not found", "request_not_found")
    return _note(request, job)


def submit(operation: Operation, ctx: AppContext) -> Endpoint:
    query = QueryChecker(operation)
    assert operation.model is not None
    model = operation.model
    queue = ctx.queue
    secured = operation.security_required and ctx.settings.api_key is not None
    limit = ctx.settings.max_body_bytes
    id_header = _id_header(operation)
    queue_headers = QueueHeaders(operation)

    async def endpoint(request: Request) -> Response:
        if secured:
            ctx.authorize(request, operation)
        params = _query(request)
        query.check(params)
        place = queue_headers.read(request)
        webhook = params.get(WEBHOOK_PARAM)
        if webhook is not None:
            problem = ctx.webhooks.check_target(webhook)
            if problem is not None:
                # A well-formed URL the mock will not call: a policy refusal, not a bad request.
                raise ApiError(403, f"webhook URL {problem}", "webhook_target_not_allowed")
        queue.check_balance(model)  # a locked account is refused whatever it sends
        body = ctx.checked_body(operation, await read_json(request, limit))
        fetched = await queue.prefetch(model, body) if queue.fetches else None
        # A full store raises QueueFull, which the app answers with a 429 in every dialect.
        ruling = ruling_of(request)
        job = queue.submit(
            model, body, webhook_url=webhook, fetched=fetched, test_id=ruling.test_id, directives=ruling.decision.job,
            start_timeout=place.start_timeout, low_priority=place.low_priority, file_seconds=place.file_seconds,
        )
        base = base_url(request)
        if webhook is not None:
            ctx.webhooks.schedule(job, base)
        queued = _with_links(IN_QUEUE, base, job)
        queued["logs"] = None
        queued["metrics"] = {}
        queued["queue_position"] = queue.submitted_position(job)
        if webhook is not None:
            queued["gateway_request_id"] = job.id  # fal's answer to a webhook submit names it too
        return JsonResponse(queued, headers={id_header: job.id})

    return endpoint


def status(operation: Operation, ctx: AppContext) -> Endpoint:
    query = QueryChecker(operation)
    id_header = _id_header(operation)
    contract = _lifecycle(operation)
    codes = {state: contract.status_codes[state.value] for state in JobState}

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        params = _query(request)
        query.check(params)
        job = _find(ctx, request, contract)
        view = ctx.queue.view(job, with_logs=is_true(params.get("logs")), step=True)
        body = status_body(base_url(request), job, view)
        return JsonResponse(body, status_code=codes[view.state], headers={id_header: job.id})

    return endpoint


def status_stream(operation: Operation, ctx: AppContext) -> Endpoint:
    query = QueryChecker(operation)
    settings = ctx.settings
    id_header = _id_header(operation)
    contract = _lifecycle(operation)

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        query.check(request.query_params)
        job = _find(ctx, request, contract)
        with_logs = is_true(request.query_params.get("logs"))
        base = base_url(request)
        # A scenario may slow the stream down: a pause before every event.
        pause = ruling_of(request).decision.stream_interval_ms / 1000

        stopping = ctx.queue.stopping

        async def events() -> AsyncIterator[str]:
            loop = asyncio.get_running_loop()
            last: dict[str, Any] | None = None
            last_sent = loop.time()
            while True:
                view = ctx.queue.view(job, with_logs=with_logs, step=True)
                body = status_body(base, job, view)
                if body != last:
                    if pause and await stopping.sleep(pause):
                        return
                    yield f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
                    last, last_sent = body, loop.time()
                if view.state is JobState.COMPLETED:
                    return
                if loop.time() - last_sent >= settings.stream_ping_seconds:
                    yield ": ping\n\n"
                    last_sent = loop.time()
                if await stopping.sleep(settings.stream_poll_seconds):
                    return  # the server is stopping: end the stream rather than hold the shutdown

        headers = {id_header: job.id, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(events(), media_type="text/event-stream", headers=headers)

    return endpoint


async def finished_result(queue: JobQueue, job: Job, base: str, contract: QueueContract) -> tuple[int, Any]:
    """Status code and body of a finished job's result (also the webhook's payload)."""
    if job.failure is not None:
        return job.failure.status_code, job.failure.body()
    output = await queue.output(job)
    return contract.result_final, output.to_json(_file_url(queue, base))


async def _finished_response(
    ctx: AppContext, request: Request, job: Job, id_header: str, contract: QueueContract
) -> Response:
    headers = {id_header: job.id}
    code, body = await finished_result(ctx.queue, job, base_url(request), contract)
    units_header = ctx.spec.answer_header(DIALECT, Role.BILLABLE_UNITS)
    if job.failure is None and job.charge is not None and units_header is not None:
        headers[units_header] = f"{job.charge.units:g}"
    if job.failure is not None:
        headers["X-Fal-Error-Type"] = job.failure.error_type
        timeout_header = ctx.spec.answer_header(DIALECT, Role.TIMEOUT_TYPE)
        if job.failure.timeout_type is not None and timeout_header is not None:
            headers[timeout_header] = job.failure.timeout_type
    return JsonResponse(body, status_code=code, headers=headers)


def result(operation: Operation, ctx: AppContext) -> Endpoint:
    id_header = _id_header(operation)
    contract = _lifecycle(operation)

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        job = _find(ctx, request, contract)
        if job.state(ctx.queue.advance()) is not JobState.COMPLETED:
            message, error_type = "Request is still in progress", "request_in_progress"
            raise ApiError(contract.result_pending, message, error_type, headers={id_header: job.id})
        return await _finished_response(ctx, request, job, id_header, contract)

    return endpoint


def cancel(operation: Operation, ctx: AppContext) -> Endpoint:
    id_header = _id_header(operation)
    contract = _lifecycle(operation)
    unknown = {"status": contract.cancel_unknown}, contract.cancel_outcomes[contract.cancel_unknown]
    codes = {outcome: contract.cancel_outcomes[outcome.value] for outcome in CancelOutcome}

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        params = request.path_params
        job = ctx.queue.find(f"{params['owner']}/{params['app']}", params["request_id"])
        if job is None:
            return JsonResponse(unknown[0], status_code=unknown[1])
        if ruling_of(request).decision.cancel_race and not ctx.queue.is_done(job):
            # The cancel loses the race: accepted, but the job runs to completion anyway.
            outcome = CancelOutcome.REQUESTED
        else:
            outcome = ctx.queue.cancel(job)
        return JsonResponse({"status": outcome.value}, status_code=codes[outcome], headers={id_header: job.id})

    return endpoint


async def run_host_job(ctx: AppContext, request: Request, queue_headers: QueueHeaders) -> Job:
    """The job a run-host call asks for: the model its path names, its body checked by that model."""
    place = queue_headers.read(request)
    endpoint_id = request.path_params["endpoint_id"]
    model_op = ctx.spec.model(endpoint_id)
    if model_op is None or model_op.model is None:
        raise ApiError(404, f"Not found: no model endpoint {endpoint_id!r} on the run host", "route_not_found")
    ctx.queue.check_balance(model_op.model)
    body = await ctx.read_valid_body(request, model_op)
    fetched = await ctx.queue.prefetch(model_op.model, body)
    ruling = ruling_of(request)
    job = ctx.queue.submit(
        model_op.model, body, fetched=fetched, test_id=ruling.test_id, directives=ruling.decision.job,
        start_timeout=place.start_timeout, low_priority=place.low_priority, file_seconds=place.file_seconds,
    )
    return _note(request, job)


def run(operation: Operation, ctx: AppContext) -> Endpoint:
    id_header = _id_header(operation)
    contract = _lifecycle(operation)
    queue_headers = QueueHeaders(operation)

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        job = await run_host_job(ctx, request, queue_headers)
        await ctx.queue.wait(job)
        return await _finished_response(ctx, request, job, id_header, contract)

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {
    "fal.submit": submit,
    "fal.status": status,
    "fal.status_stream": status_stream,
    "fal.result": result,
    "fal.cancel": cancel,
    "fal.run": run,
}
