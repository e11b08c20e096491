"""The headers the spec gives roles, per dialect: those of its answers and those its webhook is signed with.

Read once when a spec loads; a role named twice with different headers in a
dialect, or a webhook missing one of its signature headers, stops start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

from mockserver.spec.contract import QueueContract
from mockserver.spec.documents import HTTP_METHODS, SpecDocument, SpecError
from mockserver.spec.roles import ANSWER_HEADER_ROLES, WEBHOOK_HEADER_ROLES, Role

Resolve = Callable[[Any, SpecDocument], Any]


def answer_headers(documents: Iterable[SpecDocument], resolve: Resolve) -> dict[str, dict[Role, str]]:
    """Each dialect's response header (lower-case) for each answer-header role."""
    found: dict[str, dict[Role, str]] = {}
    for doc in documents:
        responses = list(doc.raw.get("components", {}).get("responses", {}).values())
        for item in doc.raw["paths"].values():
            for method in HTTP_METHODS:
                responses.extend(item.get(method, {}).get("responses", {}).values())
        for response in responses:
            # A $ref'd response is read where it is declared; the headers of this one are local.
            headers = response.get("headers", {}) if isinstance(response, Mapping) else {}
            for name, header in headers.items():
                role = resolve(header, doc).get("x-mock-role")
                if role not in ANSWER_HEADER_ROLES:
                    continue
                known = found.setdefault(doc.dialect, {}).setdefault(Role(role), str(name).lower())
                if known != str(name).lower():
                    raise SpecError(f"{doc.uri}: the {doc.dialect} {role} header is {known}, not {name}")
    return found


def webhook_headers(
    documents: Iterable[SpecDocument], contracts: Mapping[str, QueueContract], resolve: Resolve
) -> Mapping[str, Mapping[Role, str]]:
    """Each dialect's webhook signature headers (its ``x-contract.webhook.event``'s header parameters)."""
    found: dict[str, Mapping[Role, str]] = {}
    for doc in documents:
        contract = contracts.get(doc.dialect)
        event = contract.webhook.get("event") if contract else None
        operation = doc.raw.get("webhooks", {}).get(event, {}).get("post") if event else None
        if operation is None:
            continue
        names: dict[Role, str] = {}
        for param in operation.get("parameters", []):
            param = resolve(param, doc)
            if param.get("in") == "header" and param.get("x-mock-role") in WEBHOOK_HEADER_ROLES:
                names[Role(param["x-mock-role"])] = str(param["name"])
        missing = sorted(WEBHOOK_HEADER_ROLES - set(names))
        if missing:
            raise SpecError(
                f"{doc.uri}: webhook {event} declares no header parameter with x-mock-role {', '.join(missing)}"
            )
        found[doc.dialect] = MappingProxyType(names)
    return MappingProxyType(found)
