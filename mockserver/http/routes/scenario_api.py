"""The mock's steering routes: scenario rules (``/_mock/scenarios``) and simulated time (``/_mock/clock``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.errors import ApiError, validation_failed
from mockserver.http.responses import JsonResponse
from mockserver.http.scenario_gate import test_id_of
from mockserver.sim.clock import OffsetClock
from mockserver.sim.scenarios import ScenarioError
from mockserver.spec.documents import Operation


def _refusal(exc: ScenarioError) -> ApiError:
    """A rule id taken twice is a conflict (409); anything else the schema could not say is a 422."""
    if all(issue.type == "value_error.duplicate" for issue in exc.issues):
        return ApiError(409, exc.issues[0].msg, "duplicate_rule")
    return validation_failed(exc.issues)


def _listing(ctx: AppContext, scope: str | None, status_code: int = 200) -> JsonResponse:
    return JsonResponse({"rules": ctx.scenarios.listing(scope)}, status_code=status_code)


def list_rules(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return _listing(ctx, test_id_of(request, ctx))

    return endpoint


def create_rule(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        scope = test_id_of(request, ctx)
        body = await ctx.read_valid_body(request, operation)
        try:
            rule = ctx.scenarios.add(body, scope)
        except ScenarioError as exc:
            raise _refusal(exc) from None
        return JsonResponse(rule.as_json(None), status_code=201)

    return endpoint


def replace_rules(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        scope = test_id_of(request, ctx)
        body = await ctx.read_valid_body(request, operation)
        try:
            ctx.scenarios.replace(body["rules"], scope)
        except ScenarioError as exc:
            raise _refusal(exc) from None
        return _listing(ctx, scope)

    return endpoint


def clear_rules(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        ctx.scenarios.clear(test_id_of(request, ctx))
        return Response(status_code=204)

    return endpoint


def delete_rule(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        rule_id = request.path_params["rule_id"]
        if not ctx.scenarios.delete(rule_id, test_id_of(request, ctx)):
            raise ApiError(404, f"No rule {rule_id!r} in this scope", "rule_not_found")
        return Response(status_code=204)

    return endpoint


def reset_rules(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        scope = test_id_of(request, ctx)
        ctx.scenarios.reset(scope)
        return _listing(ctx, scope)

    return endpoint


def _clock(ctx: AppContext) -> OffsetClock:
    if not isinstance(ctx.clock, OffsetClock):
        raise ApiError(409, "This server's clock cannot be moved", "clock_fixed")
    return ctx.clock


def _clock_state(ctx: AppContext) -> JsonResponse:
    clock = _clock(ctx)
    return JsonResponse({"now": clock.now(), "offset": clock.offset, "step_mode": ctx.settings.step_mode})


def get_clock(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return _clock_state(ctx)

    return endpoint


def advance_clock(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        body = await ctx.read_valid_body(request, operation)
        _clock(ctx).advance(float(body["advance"]))
        ctx.queue.advance()
        return _clock_state(ctx)

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {
    "mock.scenarios.list": list_rules,
    "mock.scenarios.create": create_rule,
    "mock.scenarios.replace": replace_rules,
    "mock.scenarios.clear": clear_rules,
    "mock.scenarios.delete": delete_rule,
    "mock.scenarios.reset": reset_rules,
    "mock.clock.get": get_clock,
    "mock.clock.advance": advance_clock,
}
