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
    # Caps that keep memory flat however long the mock runs: past them the
    # oldest finished requests and files go first (unfinished ones never).
    max_jobs: int = 100_000
    max_job_bytes: int = 128 * MB  # bodies and input thumbnails held by jobs
    max_file_bytes: int = 64 * MB  # generated images, ~500 at 1 MP
    max_body_bytes: int = 32 * MB
    max_header_bytes: int = 64 * 1024  # all request headers together; more gets 431
    # Input images: decoded only up to these limits (decompression bombs).
    max_input_bytes: int = 25 * MB
    max_input_pixels: int = 40_000_000
    # How often the SSE stream looks for changes, and pings when idle (real seconds).
    stream_poll_seconds: float = 0.05
    stream_ping_seconds: float = 5.0
    spec_paths: tuple[Path, ...] | None = field(default=None)

    def __post_init__(self) -> None:
        if self.time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.max_jobs < 1 or self.max_body_bytes < 1:
            raise ValueError("max_jobs and max_body_bytes must be >= 1")
        if self.retention_seconds <= 0:
            raise ValueError("retention_seconds must be > 0")
