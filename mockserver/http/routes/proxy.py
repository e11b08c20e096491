"""The proxy route of ``@fal-ai/client``: answer as the target in ``x-fal-target-url`` would.

With ``fal.config({proxyUrl: {url, when: "always"}})`` the JavaScript client
sends every call to the proxy URL, unchanged apart from the real target in the
``x-fal-target-url`` header. A real proxy adds the key and forwards the call;
the mock is the target, so it rewrites the request's path to the route that
target maps to and hands it back to its own router. Nothing leaves the process.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from mockserver.http.bodies import PARENT_SCOPE
from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.errors import ApiError
from mockserver.http.recorder import FORWARDED
from mockserver.http.scenario_gate import RULING
from mockserver.spec.documents import Operation
from mockserver.spec.hosts import HostMap

TARGET_HEADER = "x-fal-target-url"
FAL_DOMAINS = ("fal.run", "fal.ai", "fal.media")


def local_path(target: str, hosts: HostMap) -> tuple[str, str]:
    """The mock's own path and query for a fal URL; ApiError when it is not one.

    A host of the spec's ``x-mock-hosts`` map is served where the map puts it
    (``fal.run`` under ``/run``); any other fal URL at its own path.
    """
    try:
        parts = urlsplit(target)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        host, parts = "", urlsplit("")
    if parts.scheme not in ("http", "https") or not any(host == d or host.endswith("." + d) for d in FAL_DOMAINS):
        raise ApiError(
            412, f"{TARGET_HEADER} must be a fal URL (fal.run, *.fal.run, *.fal.ai, *.fal.media); got {target!r}",
            "invalid_target_url",
        )
    # By host name alone, as a proxy forwards: @fal-ai/client's targets are https on the default port.
    return hosts.local_path(f"https://{host}{parts.path}") or parts.path or "/", parts.query


class Forward(Response):
    """Runs the rewritten request through the whole app, so errors and links come out as usual.

    The target reads the body from the proxy endpoint's own ``receive``: the
    scenario gate in front of the proxy may have read it already (to match a
    rule, or while holding a latency) and hands it out again only from there.
    """

    def __init__(self, scope: Scope, receive: Receive) -> None:
        super().__init__()
        self._scope = scope
        self._receive = receive

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await scope["app"](self._scope, self._receive, send)


def proxy(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        target = request.headers.get(TARGET_HEADER)
        if not target:
            raise ApiError(400, f"Missing the {TARGET_HEADER} header", "missing_target_url")
        path, query = local_path(target, ctx.spec.hosts)
        scope = dict(request.scope)
        scope["path"] = unquote(path)
        scope["raw_path"] = path.encode("utf-8")
        scope["query_string"] = query.encode("utf-8")
        scope["headers"] = [(k, v) for k, v in request.scope["headers"] if k.decode("latin-1").lower() != TARGET_HEADER]
        scope.pop("path_params", None)
        scope.pop("endpoint", None)
        scope.pop("route", None)
        scope.pop(RULING, None)  # the target's own rules decide for it
        scope[PARENT_SCOPE] = request.scope  # the body the target reads is the proxy call's too
        request.scope[FORWARDED] = True
        return Forward(scope, request.receive)

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {"fal.proxy": proxy}
