"""The public keys that sign the mock's webhooks (at fal's JWKS path), and the delivery log."""

from __future__ import annotations

from dataclasses import asdict

from starlette.requests import Request
from starlette.responses import Response

from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.responses import JsonResponse
from mockserver.spec.documents import Operation


def jwks(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        return JsonResponse(ctx.webhooks.signer.jwks(), headers={"Cache-Control": "public, max-age=300"})

    return endpoint


def deliveries(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        dispatcher = ctx.webhooks
        return JsonResponse(
            {"pending": dispatcher.pending, "deliveries": [asdict(r) for r in list(dispatcher.records.values())]}
        )

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {"webhooks.jwks": jwks, "webhooks.deliveries": deliveries}
