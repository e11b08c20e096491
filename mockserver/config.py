"""Server settings: one frozen object, built by the CLI or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Multiplies the spec's simulated durations; 0 completes jobs at once.
    time_scale: float = 1.0
    # Simulated model workers: jobs beyond this many wait IN_QUEUE.
    concurrency: int = 4
    # When set, every API call must carry "Key <api_key>" or "Bearer <api_key>".
    api_key: str | None = None
    # fal keeps results for an hour; files expire with their request.
    retention_seconds: float = 3600.0
    max_jobs: int = 100_000
    max_file_bytes: int = 512 * MB
    max_body_bytes: int = 32 * MB
    # Input images: decoded only up to these limits (decompression bombs).
    max_input_bytes: int = 25 * MB
    max_input_pixels: int = 40_000_000
    # How often the SSE stream looks for changes, and pings when idle (real seconds).
    stream_poll_seconds: float = 0.05
    stream_ping_seconds: float = 5.0
    spec_paths: tuple[Path, ...] | None = field(default=None)
    # Webhooks: by default only loopback targets; these hosts (names or IPs) are allowed too.
    webhook_allow_hosts: tuple[str, ...] = ()
    # Delivery attempts per webhook, and the first retry delay (doubling each time), in real seconds.
    webhook_attempts: int = 5
    webhook_backoff_seconds: float = 1.0
    webhook_timeout_seconds: float = 10.0
    # The X-Fal-Webhook-User-Id the mock signs with.
    webhook_user_id: str = "flux-mock-user"

    def __post_init__(self) -> None:
        if self.time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.retention_seconds <= 0:
            raise ValueError("retention_seconds must be > 0")
        if self.webhook_attempts < 1:
            raise ValueError("webhook_attempts must be >= 1")
        if self.webhook_backoff_seconds < 0 or self.webhook_timeout_seconds <= 0:
            raise ValueError("webhook backoff must be >= 0 and timeout > 0")
