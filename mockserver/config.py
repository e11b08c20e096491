"""Server settings: one frozen object, built by the CLI or by tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

MB = 1024 * 1024
# Past about 1000 doublings a retry's wait is no longer a number of seconds a float can hold.
MAX_WEBHOOK_ATTEMPTS = 1000
# What a replaying mock does with a request its cassette has no answer for.
REPLAY_MISSES = ("simulate", "404")


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
    # One period for which every finished request and its files are kept; None: fal's rules
    # (the spec's x-contract.retention: an hour, six minutes for results of 10 KB or more).
    retention_seconds: float | None = None
    # Caps that keep memory flat however long the mock runs: past them the
    # oldest finished requests and files go first (unfinished ones never).
    max_jobs: int = 100_000
    max_job_bytes: int = 128 * MB  # what jobs hold: their records, prompts and input thumbnails
    max_file_bytes: int = 64 * MB  # generated images, ~500 at 1 MP
    max_body_bytes: int = 32 * MB  # JSON and form bodies; uploads have their own limit below
    # Uploads (fal's storage routes): a file, sent in one request or as multipart parts, is at
    # most max_upload_bytes; past upload_spool_bytes it is written to disk as it arrives. What is
    # on disk (stored uploads and unfinished parts) shares max_disk_bytes, the oldest stored
    # files going first; upload_dir holds it (None: a temporary directory), removed at shutdown.
    max_upload_bytes: int = 1024 * MB
    max_disk_bytes: int = 2048 * MB
    upload_spool_bytes: int = 8 * MB
    upload_dir: Path | None = None
    max_multipart_uploads: int = 1_000  # unfinished at once; the oldest goes first
    max_header_bytes: int = 64 * 1024  # all request headers together; more gets 431
    # Input images: decoded only up to these limits (decompression bombs).
    max_input_bytes: int = 25 * MB
    max_input_pixels: int = 40_000_000
    # Hosts whose input URLs may be fetched ("*" for any). Empty: nothing is fetched.
    fetch_hosts: tuple[str, ...] = ()
    # How often the SSE stream looks for changes, and pings when idle (real seconds).
    stream_poll_seconds: float = 0.05
    stream_ping_seconds: float = 5.0
    # OpenAI-compatible API: b64_json as the provider's data URI (else bare base64, as OpenAI's).
    b64_data_uri: bool = True
    # Multipart bodies (image edits): at most this many files and text fields.
    max_upload_files: int = 16
    max_form_fields: int = 64
    # The request journal: how many entries are kept, and the shortest status-poll
    # gap (clock seconds) before a client is reported as polling too fast.
    journal_max_entries: int = 10_000
    min_poll_interval: float = 0.05
    spec_paths: tuple[Path, ...] | None = field(default=None)
    # Scenario rules loaded at start-up (a YAML file), and the seed of their random draws.
    scenarios_path: Path | None = None
    scenario_seed: int = 0
    # Step mode: each status poll moves a job on by one state; time does not.
    step_mode: bool = False
    # Webhooks: by default only loopback targets; these hosts (names or IPs) are allowed too.
    webhook_allow_hosts: tuple[str, ...] = ()
    # Delivery attempts per webhook, and the first retry's wait in real seconds (doubling each
    # time). None: fal's schedule from the spec (x-contract.webhook), its window times time_scale.
    webhook_attempts: int | None = None
    webhook_backoff_seconds: float | None = None
    webhook_timeout_seconds: float = 10.0
    # The X-Fal-Webhook-User-Id the mock signs with.
    webhook_user_id: str = "flux-mock-user"
    # A simulated account's starting balance in billing units (per image for Kontext); None: no account.
    balance: float | None = None
    # Replay: answer from this cassette (a directory of recorded exchanges) where it has an answer;
    # a request it lacks is simulated and flagged in the journal ("simulate") or refused ("404").
    replay_dir: Path | None = None
    replay_miss: str = "simulate"

    def __post_init__(self) -> None:
        if self.time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        if self.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        if self.min_poll_interval < 0:
            raise ValueError("min_poll_interval must be >= 0")
        if self.max_jobs < 1 or self.max_body_bytes < 1:
            raise ValueError("max_jobs and max_body_bytes must be >= 1")
        if self.max_upload_bytes < 1 or self.upload_spool_bytes < 0 or self.max_multipart_uploads < 1:
            raise ValueError("max_upload_bytes and max_multipart_uploads must be >= 1, upload_spool_bytes >= 0")
        if self.max_disk_bytes < self.max_upload_bytes:
            raise ValueError(
                f"max_disk_bytes ({self.max_disk_bytes}) must be at least max_upload_bytes ({self.max_upload_bytes}):"
                " the largest upload must fit on disk"
            )
        if self.balance is not None and not 0 <= self.balance < float("inf"):
            raise ValueError("balance must be a finite number >= 0")
        if self.retention_seconds is not None and self.retention_seconds <= 0:
            raise ValueError("retention_seconds must be > 0")
        if self.webhook_attempts is not None and not 1 <= self.webhook_attempts <= MAX_WEBHOOK_ATTEMPTS:
            raise ValueError(f"webhook_attempts must be between 1 and {MAX_WEBHOOK_ATTEMPTS}")
        backoff = self.webhook_backoff_seconds
        if (backoff is not None and not 0 <= backoff < float("inf")) or self.webhook_timeout_seconds <= 0:
            raise ValueError("webhook backoff must be >= 0 and timeout > 0")
        if self.replay_miss not in REPLAY_MISSES:
            raise ValueError(f"replay_miss must be one of {', '.join(REPLAY_MISSES)}; got {self.replay_miss!r}")
