"""What a cassette never holds: credentials, and the tokens in signed links.

Headers are kept unless they carry a credential or are transport detail that
changes with every recording:

- dropped as credentials: ``Authorization``, ``Proxy-Authorization``,
  ``Cookie``, ``Set-Cookie``, and any header whose name speaks of a key,
  token, secret, password, signature or auth (``X-Fal-Key``, ``Api-Key``);
- dropped as noise: ``Host``, ``Connection``, ``Content-Length``,
  ``Transfer-Encoding``, ``Content-Encoding`` (bodies are stored decoded),
  ``Accept-Encoding``, ``Date``, ``Server``, ``Via``, ``Alt-Svc`` and the
  like;
- everything else is kept (``Content-Type``, ``User-Agent``, every
  ``X-Fal-*`` option, request ids, ``Retry-After``, rate-limit headers), so a
  recording shows what the client asked for and what the service answered.

Credential values are also scrubbed wherever else they appear (a body that
echoes a key): every key the client sent, and ``FAL_KEY``, ``FAL_KEY_ID``,
``FAL_KEY_SECRET`` and ``OPENAI_API_KEY`` from the recorder's environment,
become ``[redacted]``. In a link, query parameters that sign it
(``X-Goog-Signature``, ``X-Amz-Credential``, ``token``, ``sig`` ...) keep
their names and lose their values.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"
_CREDENTIAL_NAME = re.compile(r"auth|cookie|secret|token|password|signature|api-?key|fal-key", re.IGNORECASE)
_NOISE = frozenset({
    "host", "connection", "keep-alive", "content-length", "transfer-encoding", "content-encoding",
    "accept-encoding", "date", "server", "via", "alt-svc", "strict-transport-security", "nel", "report-to",
    "cf-ray", "cf-cache-status", "x-amzn-trace-id", "traceparent", "tracestate", "upgrade", "te", "trailer",
    "expect",
})
_ENVIRONMENT_KEYS = ("FAL_KEY", "FAL_KEY_ID", "FAL_KEY_SECRET", "OPENAI_API_KEY")
_SCHEMES = ("key ", "bearer ", "basic ", "token ")
_SHORTEST_SECRET = 6  # shorter values would scrub ordinary words
_LINK = re.compile(r"https?://[^\s\"'<>]+")
_SIGNING_PARAM = re.compile(
    r"(?P<name>[?&](?:[^=&#]*(?:signature|credential|token|security|policy|expires|sig|key)[^=&#]*))=(?P<value>[^&#]*)",
    re.IGNORECASE,
)


def kept_header(name: str) -> bool:
    lower = name.lower()
    return lower not in _NOISE and not _CREDENTIAL_NAME.search(lower)


class Redactor:
    """Scrubs what must not be written; learns the client's keys from each request it sees."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        self._secrets: set[str] = set()
        for name in _ENVIRONMENT_KEYS:
            self._learn(env.get(name, ""))

    def learn_from(self, headers: Iterable[tuple[str, str]]) -> None:
        """Remember the credentials in these request headers, so that no copy of them is written."""
        for name, value in headers:
            lower = name.lower()
            if lower == "cookie":
                for pair in value.split(";"):
                    self._learn(pair.partition("=")[2].strip())
            elif _CREDENTIAL_NAME.search(lower):
                self._learn(value)

    def _learn(self, value: str) -> None:
        value = value.strip()
        for scheme in _SCHEMES:
            if value.lower().startswith(scheme):
                value = value[len(scheme):].strip()
        # fal's keys are "id:secret": either half alone is as secret as the pair.
        for part in (value, *value.split(":")):
            if len(part) >= _SHORTEST_SECRET:
                self._secrets.add(part)

    def headers(self, headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        """The headers worth keeping, lower-case names, repeated ones joined; values scrubbed."""
        kept: dict[str, str] = {}
        for name, value in headers:
            lower = name.lower()
            if not kept_header(lower):
                continue
            value = self.text(value)
            kept[lower] = f"{kept[lower]}, {value}" if lower in kept else value
        return kept

    def text(self, text: str) -> str:
        # Longest first, so that an "id:secret" pair goes whole rather than in halves.
        for secret in sorted(self._secrets, key=len, reverse=True):
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _LINK.sub(_unsigned, text) if "://" in text else text

    def value(self, value: Any) -> Any:
        """A JSON value with every string in it scrubbed (keys too)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {self.text(str(k)): self.value(v) for k, v in value.items()}
        return value


def _unsigned(link: re.Match[str]) -> str:
    url = link.group(0)
    if "?" not in url:
        return url
    return _SIGNING_PARAM.sub(lambda m: f"{m.group('name')}={REDACTED}" if m.group("value") else m.group(0), url)
