"""``flux-mock env``: the variables that point unmodified clients at a running mock.

The one place that says how a client is pointed at the mock: ``env`` prints
:func:`exports`, ``check`` runs its command with :func:`client_environment`
(the same variables), and ``testing.point_fal_client`` sets fal-client's
URL globals from :func:`fal_urls`.

``serve`` records where it listens in a small run file in the state
directory, one per running mock, named by its port; ``env`` reads them back
and prints shell exports for the one asked for (or the only one). A file
whose mock has died without removing it (``kill -9``) is never reported:
its process must be alive and its port must accept a connection, else the
file is removed. The fal run host is served under a prefix of the same
origin (``/run``, from the spec's ``x-mock-hosts``), and ``fal-client`` builds its URLs as
``https://{FAL_RUN_HOST}/{endpoint}``, so a host with a path
(``127.0.0.1:8443/run``) reaches it without a second port.
"""

from __future__ import annotations

import json
import os
import shlex
import socket
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

RUN_DIR = "running"  # in the state directory: {port}.json for each mock serving
LIVENESS_TIMEOUT_SECONDS = 0.5
DEFAULT_KEY = "flux-mock"  # any key works unless the mock was started with --api-key


def default_state_dir() -> Path:
    """Where the mock keeps its CA and its run file, per user."""
    configured = os.environ.get("FLUX_MOCK_STATE_DIR")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "flux-mock"


@dataclass(frozen=True)
class RunInfo:
    url: str  # the base URL clients should use
    pid: int
    bundle: str | None  # CA bundle for SSL_CERT_FILE when serving TLS
    api_key: str | None
    ca: str | None = None  # the mock's CA alone, for tools that add to their roots
    # Set for `flux-mock record`: the service it passes calls to, which wants the client's real keys.
    upstream: str | None = None


def client_url(scheme: str, host: str, port: int) -> str:
    """The URL a local client should use: wildcard binds are reached on loopback."""
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    shown = f"[{host}]" if ":" in host else host
    return f"{scheme}://{shown}:{port}"


def port_of(info: RunInfo) -> int:
    return urlsplit(info.url).port or 0


def run_file(state_dir: Path, port: int) -> Path:
    return state_dir / RUN_DIR / f"{port}.json"


def write_run_file(state_dir: Path, info: RunInfo) -> Path:
    path = run_file(state_dir, port_of(info))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{info.pid}.tmp")
    tmp.write_text(json.dumps(asdict(info)))
    os.replace(tmp, path)
    return path


def remove_run_file(state_dir: Path, info: RunInfo) -> None:
    """Remove the mock's run file if it is still its own (a later mock may have its port now)."""
    path = run_file(state_dir, port_of(info))
    recorded = _read(path)
    if recorded is not None and recorded.pid == info.pid:
        path.unlink(missing_ok=True)


def running_mocks(state_dir: Path) -> list[RunInfo]:
    """The mocks recorded in ``state_dir`` that still serve, by port; dead ones' files are removed."""
    found: list[RunInfo] = []
    for path in sorted((state_dir / RUN_DIR).glob("*.json")):
        info = _read(path)
        if info is None:
            path.unlink(missing_ok=True)  # not a run file we can read
            continue
        liveness = _liveness(info)
        if liveness == SERVING:
            found.append(info)
        elif liveness == DEAD and _read(path) == info:  # unchanged: a new mock may have just taken the port
            path.unlink(missing_ok=True)
    return sorted(found, key=port_of)


def _read(path: Path) -> RunInfo | None:
    try:
        raw = json.loads(path.read_text())
        return RunInfo(
            str(raw["url"]), int(raw["pid"]), raw.get("bundle"), raw.get("api_key"), raw.get("ca"), raw.get("upstream")
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


SERVING, BUSY, DEAD = "serving", "busy", "dead"


def _liveness(info: RunInfo) -> str:
    # The pid alone is not enough: after a kill -9 the number may go to another process.
    if not _alive(info.pid):
        return DEAD
    parts = urlsplit(info.url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 0), LIVENESS_TIMEOUT_SECONDS):
            return SERVING
    except ConnectionRefusedError:
        return DEAD  # nothing listens there any more
    except (OSError, ValueError):
        return BUSY  # alive but not answering in time (a full backlog): neither reported nor forgotten


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, and someone else's
        return True
    except (OverflowError, ValueError):  # not a pid at all
        return False
    return True


@dataclass(frozen=True)
class FalUrls:
    """fal-client's four hosts, as its URL globals spell them, on the mock at one base URL."""

    queue: str  # QUEUE_URL_FORMAT
    run: str  # RUN_URL_FORMAT: the run host's prefix on the mock (/run)
    rest: str  # REST_URL: upload tokens
    cdn: str  # CDN_URL: uploads


# fal-client's run host when FAL_RUN_HOST is unset; the others keep their paths on the mock's root.
FAL_RUN_HOST = "https://fal.run"


def run_prefix() -> str:
    """Where the mock serves fal's run host: the prefix the spec's ``x-mock-hosts`` gives it."""
    # Imported here: the spec's modules would more than treble the cost of importing this one.
    from mockserver.spec.loader import default_spec

    return (default_spec().hosts.local_path(FAL_RUN_HOST) or "").rstrip("/")


def fal_urls(base: str) -> FalUrls:
    base = base.rstrip("/")
    return FalUrls(queue=f"{base}/", run=f"{base}{run_prefix()}/", rest=base, cdn=base)


def exports(info: RunInfo) -> list[tuple[str, str]]:
    parts = urlsplit(info.url)
    host = parts.netloc
    key = info.api_key or DEFAULT_KEY
    urls = fal_urls(info.url)
    # A recorder passes the client's own keys on: a placeholder would only be refused upstream.
    keys = info.upstream is None
    pairs = [("FAL_KEY", key)] if keys else []
    pairs += [
        ("FAL_RUN_HOST", f"{host}{run_prefix()}"),
        ("FAL_QUEUE_RUN_HOST", host),
    ]
    if info.bundle:
        # Python's ssl/httpx read SSL_CERT_FILE; requests and curl have their own variables.
        pairs += [("SSL_CERT_FILE", info.bundle), ("REQUESTS_CA_BUNDLE", info.bundle), ("CURL_CA_BUNDLE", info.bundle)]
    if info.ca:
        pairs.append(("NODE_EXTRA_CA_CERTS", info.ca))  # Node adds these to its own roots
    pairs.append(("OPENAI_BASE_URL", f"{info.url}/v1"))
    if keys:
        pairs.append(("OPENAI_API_KEY", key))
    # For code that sets fal_client.client's QUEUE_URL_FORMAT / RUN_URL_FORMAT itself, and for your own.
    pairs += [("FLUX_MOCK_URL", info.url), ("FAL_QUEUE_URL", urls.queue), ("FAL_RUN_URL", urls.run)]
    return pairs


def client_environment(info: RunInfo, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The caller's environment (default ``os.environ``) with :func:`exports` on top.

    The placeholder keys replace real ones, so a real key never reaches the mock.
    """
    env = dict(os.environ if environ is None else environ)
    env.update(exports(info))
    return env


def shell_exports(info: RunInfo) -> str:
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in exports(info))
