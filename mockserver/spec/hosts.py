"""Where the real service serves what the mock serves from one origin (``x-mock-hosts``).

fal spreads its API over several hosts (the queue host, the run host, the
REST host, the CDN); the mock answers all of them from one address, each under
a path prefix. A document lists its share of that map::

    x-mock-hosts:
      - {prefix: /run, url: "https://fal.run"}

meaning the mock's ``/run/X`` is ``https://fal.run/X``. The recorder forwards
by this map, and a recording's real URLs are read back through it, so a call
captured at ``fal.run`` is judged as the run host's operation, not as the
queue's one with the same path.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from mockserver.spec.documents import SpecDocument, SpecError

_DEFAULT_PORTS = {"http": 80, "https": 443}


def under(path: str, prefix: str) -> bool:
    """Whether ``path`` lies under ``prefix`` at a segment boundary (``/runs`` is not under ``/run``)."""
    return path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] in "/?#" or not prefix)


def checked_prefix(text: str) -> str:
    """A path prefix: empty (the root) or ``/a/b``, with no trailing slash, query or fragment."""
    prefix = text.strip().rstrip("/")
    if prefix and not prefix.startswith("/"):
        raise ValueError(f"prefix {text!r} must start with /")
    if any(c in prefix for c in "?#"):
        raise ValueError(f"prefix {text!r} must be a plain path")
    return prefix


def checked_url(text: str) -> str:
    """A base URL: http(s), a host, no query or fragment; returned without a trailing slash."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r}: a base URL takes no query or fragment")
    return text.strip().rstrip("/")


@dataclass(frozen=True)
class Host:
    """The mock's paths under ``prefix`` are the real service's under ``url``."""

    prefix: str
    url: str


class HostMap:
    """The hosts of every document, each prefix at most once."""

    def __init__(self, hosts: Iterable[Host]) -> None:
        self.hosts = tuple(sorted(hosts, key=lambda h: (-len(h.prefix), h.prefix)))
        # For reading URLs back: origins compare without case, paths exactly; the longest base
        # path first, so rest.fal.ai/storage is tried before a bare rest.fal.ai would be.
        bases = [(_origin(h.url), urlsplit(h.url).path, h) for h in self.hosts]
        self._bases = sorted(bases, key=lambda b: -len(b[1]))

    def root(self, url: str) -> bool:
        """Whether ``url`` is the real service's address for the mock's root (fal's queue host)."""
        try:
            origin, path = _origin(url), urlsplit(url).path.rstrip("/")
        except ValueError:
            return False
        return any(h.prefix == "" and (base, base_path) == (origin, path) for base, base_path, h in self._bases)

    def local_path(self, url: str) -> str | None:
        """The mock's path for a real URL (its query dropped), or None when no host of the map serves it."""
        try:
            parts = urlsplit(url)
            origin = _origin(url)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            return None
        for base_origin, base_path, host in self._bases:
            if origin == base_origin and under(parts.path, base_path):
                return host.prefix + parts.path[len(base_path):] or "/"
        return None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return f"{scheme}://{(parts.hostname or '').lower()}:{parts.port or _DEFAULT_PORTS.get(scheme)}"


def read_hosts(documents: Iterable[SpecDocument]) -> HostMap:
    """Every document's ``x-mock-hosts``, checked: a bad entry, a prefix given twice, or one that no
    path of the spec lies under stops loading."""
    documents = tuple(documents)
    paths = [path for doc in documents for path in doc.raw["paths"]]
    found: dict[str, Host] = {}
    for doc in documents:
        entries = doc.raw.get("x-mock-hosts", [])
        if not isinstance(entries, list):
            raise SpecError(f"{doc.uri}: x-mock-hosts must be a list of {{prefix, url}}")
        for n, entry in enumerate(entries):
            host = _host(entry, f"{doc.uri}: x-mock-hosts[{n}]")
            if host.prefix in found:
                raise SpecError(f"{doc.uri}: x-mock-hosts gives the prefix {host.prefix!r} a second host")
            if not any(under(path, host.prefix) for path in paths):
                raise SpecError(f"{doc.uri}: x-mock-hosts names {host.prefix!r}, but no path of the spec is under it")
            found[host.prefix] = host
    return HostMap(found.values())


def _host(entry: Any, where: str) -> Host:
    if not isinstance(entry, Mapping) or set(entry) != {"prefix", "url"}:
        raise SpecError(f"{where} must be a mapping of exactly prefix and url")
    prefix, url = entry["prefix"], entry["url"]
    if not isinstance(prefix, str) or not isinstance(url, str):
        raise SpecError(f"{where}: prefix and url must be text")
    try:
        return Host(checked_prefix(prefix), checked_url(url))
    except ValueError as exc:
        raise SpecError(f"{where}: {exc}") from None
