"""The suite's webhook signature rule on hand-signed deliveries: fal's scheme, checked by its parts."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contract_tests.report import Findings
from contract_tests.webhook_signature import check_signature, public_keys
from mockserver.spec.loader import default_spec
from mockserver.spec.roles import Role

NAMES = default_spec().webhook_headers("fal")
BODY = b'{"request_id": "r-1", "status": "OK", "payload": {}}'
NOW = 1_800_000_000


def signed(key: Ed25519PrivateKey, timestamp: int, body: bytes = BODY) -> dict[str, str]:
    message = f"r-1\nuser-9\n{timestamp}\n{hashlib.sha256(body).hexdigest()}".encode()
    values = {
        Role.WEBHOOK_REQUEST_ID: "r-1", Role.WEBHOOK_USER_ID: "user-9",
        Role.WEBHOOK_TIMESTAMP: str(timestamp), Role.WEBHOOK_SIGNATURE: key.sign(message).hex(),
    }
    return {NAMES[role].lower(): value for role, value in values.items()}


def failures(headers: dict[str, str], keys: list[Ed25519PrivateKey], body: bytes = BODY) -> list[str]:
    found = Findings("fal-ai/x", "webhook")
    check_signature(headers, body, NAMES, [k.public_key() for k in keys], 300, NOW, found)
    return [f"{f.rule}: {f.message}" for f in found.failures]


def test_a_delivery_signed_by_a_published_key_passes() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    assert failures(signed(key, NOW - 5), [other, key]) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda h, b: (h, b + b" "), "webhook.signature: no published key (1) verifies"),  # body changed on the way
        (lambda h, b: ({**h, "x-fal-webhook-user-id": "user-1"}, b), "webhook.signature: no published key"),
        (lambda h, b: ({**h, "x-fal-webhook-signature": "zz"}, b),
         "webhook.signature: X-Fal-Webhook-Signature is not hex"),
        (lambda h, b: ({k: v for k, v in h.items() if "timestamp" not in k}, b),
         "webhook.headers: the webhook lacks X-Fal-Webhook-Timestamp"),
        (lambda h, b: ({**h, "x-fal-webhook-timestamp": "soon"}, b),
         "webhook.timestamp: X-Fal-Webhook-Timestamp is 'soon'"),
    ],
    ids=["body", "user-id", "not-hex", "no-timestamp", "timestamp-word"],
)
def test_a_tampered_delivery_is_named(edit: object, expected: str) -> None:
    key = Ed25519PrivateKey.generate()
    headers, body = edit(signed(key, NOW), BODY)  # type: ignore[operator]
    found = failures(headers, [key], body)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_a_stale_timestamp_is_named_even_when_signed() -> None:
    key = Ed25519PrivateKey.generate()
    assert failures(signed(key, NOW - 301), [key]) == [
        "webhook.timestamp: signed 301s before it arrived; receivers refuse over 300s"
    ]


def test_only_ed25519_keys_of_a_key_set_are_used() -> None:
    key = Ed25519PrivateKey.generate()
    x = base64.urlsafe_b64encode(key.public_key().public_bytes_raw()).rstrip(b"=").decode()
    jwks = {"keys": [{"kty": "RSA", "n": "x"}, {"kty": "OKP", "crv": "Ed25519", "x": "!!"},
                     {"kty": "OKP", "crv": "Ed25519", "x": x}]}
    keys = public_keys(jwks)
    assert len(keys) == 1 and keys[0].public_bytes_raw() == key.public_key().public_bytes_raw()
    assert public_keys({"keys": "no"}) == [] and public_keys([]) == []
