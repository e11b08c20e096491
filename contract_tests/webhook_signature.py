"""Whether a delivered webhook is signed as the spec says: fal's Ed25519 scheme, keys from a JWKS.

The signed message is the request id, the user id, the timestamp and the
SHA-256 hex digest of the body, joined by newlines; the signature is hex in its
own header. A receiver trusts the webhook only if one published key verifies it
and the timestamp is recent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract_tests.report import Findings
from mockserver.testing import Role

RULES = ("webhook.headers", "webhook.signature", "webhook.timestamp")


def public_keys(jwks: Any) -> list[Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS document; others are skipped."""
    keys = jwks.get("keys") if isinstance(jwks, Mapping) else None
    found = []
    for key in keys if isinstance(keys, list) else []:
        if not isinstance(key, Mapping) or key.get("kty") != "OKP" or key.get("crv") != "Ed25519":
            continue
        try:
            raw = base64.urlsafe_b64decode(str(key.get("x", "")) + "==")
            found.append(Ed25519PublicKey.from_public_bytes(raw))
        except (ValueError, binascii.Error):
            continue
    return found


def check_signature(
    headers: Mapping[str, str],  # lower-case names
    body: bytes,
    names: Mapping[Role, str],
    keys: list[Ed25519PublicKey],
    max_age: float,
    now: float,
    found: Findings,
) -> None:
    found.checked(*RULES)
    values = {role: headers.get(name.lower()) for role, name in names.items()}
    missing = [names[role] for role, value in values.items() if not value]
    if missing:
        found.add("webhook.headers", f"the webhook lacks {', '.join(sorted(missing))}")
        return
    timestamp = str(values[Role.WEBHOOK_TIMESTAMP])
    if not timestamp.isdigit():
        found.add("webhook.timestamp", f"{names[Role.WEBHOOK_TIMESTAMP]} is {timestamp!r}, not Unix seconds")
        return
    age = now - int(timestamp)
    if abs(age) > max_age:
        found.add("webhook.timestamp", f"signed {age:.0f}s before it arrived; receivers refuse over {max_age:g}s")
    digest = hashlib.sha256(body).hexdigest()
    message = f"{values[Role.WEBHOOK_REQUEST_ID]}\n{values[Role.WEBHOOK_USER_ID]}\n{timestamp}\n{digest}".encode()
    try:
        signature = bytes.fromhex(str(values[Role.WEBHOOK_SIGNATURE]))
    except ValueError:
        found.add("webhook.signature", f"{names[Role.WEBHOOK_SIGNATURE]} is not hex")
        return
    if not keys:
        found.add("webhook.signature", "the key set publishes no Ed25519 key to verify the webhook with")
        return
    for key in keys:
        try:
            key.verify(signature, message)
            return
        except InvalidSignature:
            continue
    found.add("webhook.signature", f"no published key ({len(keys)}) verifies {names[Role.WEBHOOK_SIGNATURE]}")
