"""``/_mock/account``: read the simulated account, top it up or set its balance."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.responses import JsonResponse
from mockserver.spec.documents import Operation


def get_account(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return JsonResponse(ctx.queue.account.summary(ctx.queue.advance()))

    return endpoint


def update_account(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        body = await ctx.read_valid_body(request, operation)
        account, now = ctx.queue.account, ctx.queue.advance()
        if "top_up" in body:
            account.top_up(float(body["top_up"]), now)
        else:
            balance = body["balance"]
            account.set_balance(None if balance is None else float(balance), now)
        return JsonResponse(account.summary(now))

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {"mock.account.get": get_account, "mock.account.update": update_account}
