"""The realtime token route: a short-lived token for the apps a client names.

fal's clients fetch one from the REST host before a realtime or browser
streaming connection and pass it as ``fal_jwt_token``. The mock's token is an
opaque random string; the socket it would open is not served.
"""

from __future__ import annotations

import secrets

from starlette.requests import Request
from starlette.responses import Response

from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.responses import JsonResponse
from mockserver.spec.documents import Operation


def realtime_token(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        await ctx.read_valid_body(request, operation)  # what it names does not change the token
        return JsonResponse(f"flux-mock.{secrets.token_urlsafe(24)}")

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {"auth.realtime_token": realtime_token}
