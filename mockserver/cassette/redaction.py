"""What a cassette never holds: credentials, and the tokens in signed links.

Headers are kept unless they carry a credential or are transport detail that
changes with every recording:

- dropped as credentials: ``Authorization``, ``Proxy-Authorization``,
  ``Cookie``, ``Set-Cookie``, and any header whose name speaks of a key,
  token, secret, password, signature, credential or auth (``X-Fal-Key``,
  ``Api-Key``, ``Ocp-Apim-Subscription-Key``), but for ``Idempotency-Key``,
  ``WWW-Authenticate`` and rate-limit headers (``X-RateLimit-Remaining-Tokens``),
  which say nothing secret;
- dropped as noise: ``Host``, ``Connection``, ``Content-Length``,
  ``Transfer-Encoding``, ``Content-Encoding`` (bodies are stored decoded),
  ``Accept-Encoding``, ``Date``, ``Server``, ``Via``, ``Alt-Svc`` and the
  like;
- everything else is kept (``Content-Type``, ``User-Agent``, every
  ``X-Fal-*`` option, request ids, ``Retry-After``, rate-limit headers), so a
  recording shows what the client asked for and what the service answered.

Credential values are also scrubbed wherever else they appear (a body that
echoes a key, a multipart field, a query string): every key the client sent,
and ``FAL_KEY``, ``FAL_KEY_ID``, ``FAL_KEY_SECRET`` and ``OPENAI_API_KEY``
from the recorder's environment, become ``[redacted]``. So do the values of
JSON fields and form fields named as credentials (``api_key``, ``token``,
``secret`` ...), the answer fields the spec marks ``x-mock-role: credential``
(the upload and realtime tokens fal hands out), and, in a link or a path, the
query parameters that sign or authorise it (``X-Goog-Signature``,
``X-Amz-Credential``, ``token``, ``sig``, ``key`` ...), which keep their names.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from mockserver.spec.credentials import credential_fields
from mockserver.spec.loader import Spec

REDACTED = "[redacted]"
_CREDENTIAL_NAME = re.compile(r"auth|cookie|secret|token|password|signature|credential|key", re.IGNORECASE)
# Headers whose names sound like credentials but carry none.
_NOT_CREDENTIALS = re.compile(r"^(idempotency-key|www-authenticate|x-ratelimit-.*|ratelimit-.*|x-rate-limit-.*)$")
# A JSON, form or query field named as a credential: api_key, fal_key, access_token, password ...
_CREDENTIAL_FIELD = re.compile(
    r"^(.*[_-])?(api[_-]?key|apikey|key|token|secret|password|passwd|credentials?|auth|authorization|signature|sig)$",
    re.IGNORECASE,
)
# Query parameters that sign a link, by cloud storage's names, besides the credential-named ones.
_SIGNING_PARAMS = frozenset({"x-goog-signature", "x-goog-credential", "x-amz-signature", "x-amz-credential",
                             "x-amz-security-token", "key-pair-id", "policy", "se", "sp", "sv", "sr", "skoid"})
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
_QUERY_PARAM = re.compile(r"(?P<name>[?&][^=&#]*)=(?P<value>[^&#]*)")
# A multipart part named as a credential, up to its value.
_FORM_CREDENTIAL = re.compile(
    rb'(Content-Disposition:[^\r\n]*\bname="(?P<name>[^"]*)"[^\r\n]*\r\n(?:[^\r\n]+\r\n)*\r\n)(?P<value>[^\r]*)',
    re.IGNORECASE,
)


def kept_header(name: str) -> bool:
    lower = name.lower()
    if lower in _NOISE:
        return False
    return bool(_NOT_CREDENTIALS.match(lower)) or not _CREDENTIAL_NAME.search(lower)


def credential_field(name: str) -> bool:
    return bool(_CREDENTIAL_FIELD.match(name))


class Redactor:
    """Scrubs what must not be written; learns the client's keys from each request it sees."""

    def __init__(
        self, environ: Mapping[str, str] | None = None, credentials: Mapping[str, frozenset[str]] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        # Per operation, the answer fields that are credentials (spec.credentials.credential_fields).
        self._credentials = dict(credentials or {})
        self._secrets: set[str] = set()
        for name in _ENVIRONMENT_KEYS:
            self._learn(env.get(name, ""))

    @classmethod
    def for_spec(cls, spec: Spec, environ: Mapping[str, str] | None = None) -> Redactor:
        """A redactor that also empties the answer fields ``spec`` marks as credentials."""
        return cls(environ, credential_fields(spec))

    def learn_from(self, headers: Iterable[tuple[str, str]]) -> None:
        """Remember the credentials in these request headers, so that no copy of them is written."""
        for name, value in headers:
            lower = name.lower()
            if lower == "cookie":
                for pair in value.split(";"):
                    self._learn(pair.partition("=")[2].strip())
            elif _CREDENTIAL_NAME.search(lower) and not _NOT_CREDENTIALS.match(lower):
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
        return _LINK.sub(lambda link: unsigned(link.group(0)), text) if "://" in text else text

    def path(self, path: str) -> str:
        """A request path as the client asked it, its query's credentials gone."""
        return unsigned(self.text(path))

    def value(self, value: Any) -> Any:
        """A JSON value with every string in it scrubbed (keys too), and credential-named fields emptied."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.value(item) for item in value]
        if isinstance(value, dict):
            return {
                self.text(str(k)): REDACTED if isinstance(v, str) and v and credential_field(str(k)) else self.value(v)
                for k, v in value.items()
            }
        return value

    def answer(self, operation: str | None, value: Any) -> Any:
        """An answer's JSON, scrubbed, with the fields the spec marks as credentials emptied."""
        fields = self._credentials.get(operation or "", frozenset())
        if "" in fields and isinstance(value, str):
            return REDACTED
        if fields and isinstance(value, dict):
            value = {k: REDACTED if k in fields and isinstance(v, str) else v for k, v in value.items()}
        return self.value(value)

    def data(self, data: bytes) -> bytes:
        """Bytes kept as a file (a multipart form, an upload): known secrets and credential fields gone."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            data = data.replace(secret.encode("utf-8"), REDACTED.encode())
        return _FORM_CREDENTIAL.sub(_form_value_redacted, data)


def unsigned(url: str) -> str:
    """``url`` with the values of the query parameters that sign or authorise it redacted."""
    if "?" not in url:
        return url
    return _QUERY_PARAM.sub(_param_redacted, url)


def _param_redacted(param: re.Match[str]) -> str:
    name = param.group("name")[1:]
    if param.group("value") and (name.lower() in _SIGNING_PARAMS or credential_field(name)):
        return f"{param.group('name')}={REDACTED}"
    return param.group(0)


def _form_value_redacted(part: re.Match[bytes]) -> bytes:
    if credential_field(part.group("name").decode("latin-1")) and part.group("value"):
        return part.group(1) + REDACTED.encode()
    return part.group(0)
