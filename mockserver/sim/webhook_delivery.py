"""Webhooks: fal's signed POST when a request submitted with ``?fal_webhook=`` ends.

The queue is simulated lazily, so nothing would notice a job finishing on its
own. While webhooks are pending, one watcher task sleeps until the earliest
scheduled finish (re-checking at least every ``POLL_SECONDS``, so a
:class:`~mockserver.sim.clock.ManualClock` moved by hand, or a cancel, is noticed
too) and starts a delivery task for each job that has ended; a delivery that
fails is retried on fal's schedule, time-scaled (:mod:`~mockserver.sim.webhook_schedule`).
All of them are cancelled when the server stops.

Signatures follow fal: Ed25519 over
``request_id \\n user_id \\n timestamp \\n sha256_hex(body)``, hex-encoded in
``X-Fal-Webhook-Signature``; the public key is published as a JWKS document.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import ipaddress
import json
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from mockserver.config import Settings
from mockserver.sim.jobs import Job, JobState
from mockserver.sim.queue import JobQueue
from mockserver.sim.webhook_schedule import delivery_delays
from mockserver.spec.contract import WebhookSchedule
from mockserver.spec.roles import Role

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

log = logging.getLogger("mockserver.sim.webhook_delivery")

POLL_SECONDS = 0.05  # upper bound on how late a finish is noticed
# (status code, body) the result endpoint would answer for a finished job.
ResultRenderer = Callable[[Job, str], Awaitable[tuple[int, Any]]]
Sleep = Callable[[float], Awaitable[None]]


class Signer:
    """An Ed25519 key, made when first needed; its public half is served as JWKS.

    cryptography (like httpx, for deliveries) is imported only then: a mock that
    sends no webhooks runs about 12 MB smaller. The header names are the spec's
    (the webhook event's header parameters, by role).
    """

    def __init__(self, header_names: Mapping[Role, str]) -> None:
        self._names = header_names

    @functools.cached_property
    def _key(self) -> Ed25519PrivateKey:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        return Ed25519PrivateKey.generate()

    @functools.cached_property
    def _public(self) -> bytes:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def kid(self) -> str:
        return hashlib.sha256(self._public).hexdigest()[:16]

    def jwks(self) -> dict[str, Any]:
        x = base64.urlsafe_b64encode(self._public).rstrip(b"=").decode()
        return {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.kid, "alg": "EdDSA", "use": "sig"}]}

    def headers(self, request_id: str, user_id: str, body: bytes, timestamp: int) -> dict[str, str]:
        message = f"{request_id}\n{user_id}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()
        names = self._names
        return {
            names[Role.WEBHOOK_REQUEST_ID]: request_id,
            names[Role.WEBHOOK_USER_ID]: user_id,
            names[Role.WEBHOOK_TIMESTAMP]: str(timestamp),
            names[Role.WEBHOOK_SIGNATURE]: self._key.sign(message).hex(),
        }


def target_problem(url: str, allow_hosts: tuple[str, ...]) -> str | None:
    """Why the mock will not deliver to ``url``, or None when it will."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return "is not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return "must be an http(s) URL with a host"
    if "*" in allow_hosts or host in (h.lower() for h in allow_hosts):
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass
    return f"host {host!r} is not a loopback address; allow it with --webhook-allow {host}"


def payload(job: Job, status_code: int, body: Any, payload_error: str = "") -> dict[str, Any]:
    """fal's webhook body: OK with the output, or ERROR with the error body.

    The one place the body is built. ``gateway_request_id`` names the runner's attempt,
    the request id until a runner is retried (a ``requeue`` scenario). For a job whose output fal could
    not serialise, ``payload`` is null and ``payload_error`` says why.
    """
    # After runner retries, the gateway id is the last attempt's, no longer the request id.
    gateway = job.gateway_request_id(job.finished_at) if job.finished_at is not None else job.id
    common = {"request_id": job.id, "gateway_request_id": gateway}
    if status_code == 200:
        outcome = {**common, "status": "OK"}
    else:
        outcome = {**common, "status": "ERROR", "error": f"Invalid status code: {status_code}"}
    if job.unserialisable_output:
        return {**outcome, "payload": None, "payload_error": payload_error}
    return {**outcome, "payload": body}


@dataclass
class DeliveryRecord:
    """What happened to one webhook, for tests and the admin route."""

    request_id: str
    url: str
    attempts: int = 0
    delivered: bool = False
    last_error: str | None = None
    statuses: list[int] = field(default_factory=list)


class WebhookDispatcher:
    """Delivers each webhook once its job ends, retrying as ``schedule`` (the spec's) and the settings say.

    ``payload_error`` is what a body says in place of an output that is not serialisable.
    """

    def __init__(
        self,
        queue: JobQueue,
        settings: Settings,
        render: ResultRenderer,
        header_names: Mapping[Role, str],
        schedule: WebhookSchedule | None = None,
        payload_error: str = "",
    ) -> None:
        self.signer = Signer(header_names)
        self.records: dict[str, DeliveryRecord] = {}
        self.delays = delivery_delays(settings, schedule)  # real seconds before each retry
        self.sleep: Sleep = asyncio.sleep  # the waits between attempts; tests replace it
        self._queue = queue
        self._settings = settings
        self._render = render
        self._payload_error = payload_error
        self._pending: dict[str, tuple[Job, str, str]] = {}  # job id → (job, target, base URL)
        self._watcher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def check_target(self, url: str) -> str | None:
        return target_problem(url, self._settings.webhook_allow_hosts)

    def schedule(self, job: Job, base_url: str) -> None:
        """Deliver ``job``'s webhook once it ends. Call from the server's event loop."""
        assert job.webhook_url is not None
        self.records[job.id] = DeliveryRecord(job.id, job.webhook_url)
        while len(self.records) > self._settings.max_jobs:
            del self.records[next(iter(self.records))]
        self._pending[job.id] = (job, job.webhook_url, base_url)
        if self._watcher is None or self._watcher.done():
            self._watcher = self._spawn(self._watch())

    @property
    def pending(self) -> int:
        """Webhooks waiting for their job to end."""
        return len(self._pending)

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _watch(self) -> None:
        clock = self._queue.clock
        while self._pending:
            now = self._queue.advance()
            for job_id, (job, url, base) in list(self._pending.items()):
                if job.state(now) is JobState.COMPLETED:
                    del self._pending[job_id]
                    self._spawn(self._run(job, url, base))
            finishes = [job.finished_at for job, _, _ in self._pending.values() if job.finished_at is not None]
            if not self._pending:
                return
            # Sleep until the next scheduled finish, but never long: the clock may be moved by hand.
            delay = min(finishes) - clock.now() if finishes else POLL_SECONDS
            await asyncio.sleep(min(max(delay, 0.0), POLL_SECONDS))

    async def _run(self, job: Job, url: str, base_url: str) -> None:
        try:
            status_code, body = await self._render(job, base_url)
            data = json.dumps(payload(job, status_code, body, self._payload_error), ensure_ascii=False).encode()
            await self._deliver(job.id, url, data)
        except asyncio.CancelledError:
            raise
        except Exception:  # a background task has no caller to tell; keep the server healthy
            log.exception("webhook for %s failed", job.id)

    async def _deliver(self, request_id: str, url: str, data: bytes) -> None:
        import httpx  # only when a webhook is sent (see Signer)

        settings = self._settings
        record = self.records.get(request_id) or DeliveryRecord(request_id, url)
        async with httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False) as client:
            for attempt in range(len(self.delays) + 1):
                if attempt:
                    await self.sleep(self.delays[attempt - 1])
                # Receivers compare the timestamp with their own wall clock, not the simulated one.
                timestamp = int(time.time())
                headers = {
                    "Content-Type": "application/json",
                    **self.signer.headers(request_id, settings.webhook_user_id, data, timestamp),
                }
                record.attempts += 1
                try:
                    response = await client.post(url, content=data, headers=headers)
                except httpx.HTTPError as exc:
                    record.last_error = f"{type(exc).__name__}: {exc}"
                    continue
                record.statuses.append(response.status_code)
                if 200 <= response.status_code < 300:
                    record.delivered = True
                    record.last_error = None
                    return
                record.last_error = f"HTTP {response.status_code}"
        log.warning("webhook for %s to %s gave up after %d attempts", request_id, url, record.attempts)
