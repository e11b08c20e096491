"""Driving a fal queue server through the contract: submit, poll, fetch, download, cancel.

Every answer is checked against the operation it belongs to (found from its
URL in the spec); the lifecycle rules come from the document's ``x-contract``
block; field meanings from the model's roles. What is fal-specific here is the
shape of the flow itself: a ticket with status/response/cancel URLs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from contract_tests.cases import Case
from contract_tests.fal_images import ImageFetch, check_result_images
from contract_tests.operations import OperationIndex
from contract_tests.report import Findings
from contract_tests.response_checks import check_answer, documented_response, json_body
from contract_tests.stream import check_stream
from contract_tests.webhook_receiver import Delivery, WebhookReceiver
from contract_tests.webhook_signature import check_signature, public_keys
from mockserver.testing import Operation, QueueContract, Role, Spec

DIALECT = "fal"  # the x-mock-dialect of the documents this flow drives
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
_LIFECYCLE_RULES = ("lifecycle.state", "lifecycle.status-code", "lifecycle.transition", "lifecycle.queue-position")


@dataclass(frozen=True)
class FlowOptions:
    poll_interval: float = 0.05
    timeout: float = 120.0
    webhook_keys: str | None = None  # the JWKS URL; default: the target's keys operation


class FalFlow:
    def __init__(self, spec: Spec, client: httpx.Client, base_url: str, options: FlowOptions) -> None:
        self.spec = spec
        self.client = client
        self.base = base_url.rstrip("/")
        self.options = options
        self.index = OperationIndex(spec, self.base)
        self._fetch = ImageFetch(spec, self.index, client)

    # ---- the three kinds of test ---------------------------------------------

    def valid(self, case: Case) -> Findings:
        found = Findings(case.endpoint, case.describe())
        op = self._model(case, found)
        ticket = self._submit(case, op, found) if op else None
        if op is None or ticket is None:
            return found
        final = self._poll(ticket, found, check_early_result=True)
        if final is None:
            return found
        found.checked("lifecycle.failed", "result.status")
        if final.get("error"):
            found.add("lifecycle.failed", f"a valid request ended {final.get('status')} with error {final['error']!r}")
            return found
        contract = self.contract()
        stream_url = f"{ticket['status_url']}/stream"
        check_stream(self.spec, self.index, self.client, stream_url, contract.final_state, found)
        result = self._get(str(ticket["response_url"]), found)
        if result is None:
            return found
        if result.status_code != contract.result_final:
            found.add(
                "result.status",
                f"result of a completed request answered {result.status_code}, not {contract.result_final}",
            )
            return found
        assert op.model is not None
        check_result_images(self._fetch, self.contract().output_images, case, op.model, json_body(result), found)
        return found

    def invalid(self, case: Case) -> Findings:
        found = Findings(case.endpoint, case.describe())
        op = self._model(case, found)
        if op is None:
            return found
        answer = self._post(case)
        check_answer(self.spec, op, answer, found)
        wanted = case.expect.status
        found.checked("invalid.accepted", "invalid.status")
        if answer.is_success:
            found.add("invalid.accepted", f"answered {answer.status_code}; the spec says {wanted}")
            return found
        if answer.status_code != wanted:
            found.add("invalid.status", f"answered {answer.status_code}; the spec says {wanted}")
        if case.expect.field and answer.status_code == 422:
            named = _named_fields(json_body(answer))
            found.checked("invalid.field")
            if case.expect.field not in named:
                found.add("invalid.field", f"the 422 names {named or 'no field'}, not {case.expect.field!r}")
        return found

    def cancel(self, case: Case) -> Findings:
        found = Findings(case.endpoint, f"cancel after {case.describe()}")
        op = self._model(case, found)
        ticket = self._submit(case, op, found) if op else None
        if ticket is None:
            return found
        cancel_url = str(ticket["cancel_url"])
        answer = self._request("PUT", cancel_url, found)
        if answer is None:
            return found
        outcome = _field(json_body(answer), "status")
        self._check_cancel_code(outcome, answer.status_code, found)
        final = self._poll(ticket, found, check_early_result=False)
        if final is None:
            return found
        result = self._get(str(ticket["response_url"]), found)
        if result is not None:
            found.checked("cancel.result")
            cancelled = bool(final.get("error"))
            if cancelled and result.is_success:
                found.add("cancel.result", f"result of a cancelled request answered {result.status_code}, not a 4xx")
            final_code = self.contract().result_final
            if not cancelled and result.status_code != final_code:
                found.add(
                    "cancel.result", f"{outcome} request's result answered {result.status_code}, not {final_code}"
                )
        # An id nobody issued: cancel and status must both say "not found" as documented.
        unknown = cancel_url.replace(str(ticket["request_id"]), UNKNOWN_ID)
        answer = self._request("PUT", unknown, found)
        if answer is not None:
            found.checked("queue.unknown-request")
            self._check_cancel_code(_field(json_body(answer), "status"), answer.status_code, found)
            contract = self.contract()
            if answer.status_code != contract.cancel_outcomes[contract.cancel_unknown]:
                found.add("queue.unknown-request", f"cancel of an unknown request answered {answer.status_code}")
        status = self._get(str(ticket["status_url"]).replace(str(ticket["request_id"]), UNKNOWN_ID), found)
        if status is not None and status.status_code != self.contract().unknown_request:
            found.add("queue.unknown-request", f"status of an unknown request answered {status.status_code}")
        return found

    def run(self, case: Case, run_base: str) -> Findings:
        """The run host: ``POST {run_base}/{endpoint}`` answers the bare result at once."""
        found = Findings(case.endpoint, f"run-host {case.describe()}")
        op = self._model(case, found)
        if op is None or op.model is None:
            return found
        run_operation = self.contract().run_operation
        if run_operation is None:
            found.add("run.status", "the spec's x-contract names no run host operation")
            return found
        run_op = self.spec.operation(run_operation)
        url = f"{run_base.rstrip('/')}/{case.endpoint}"
        found.checked("run.status")
        try:
            answer = self.client.post(url, content=case.payload(), headers={"Content-Type": case.content_type})
        except httpx.HTTPError as exc:
            found.add("run.status", f"POST {url} failed: {exc}")
            return found
        check_answer(self.spec, run_op, answer, found)
        if answer.status_code != 200:
            found.add("run.status", f"POST {url} answered {answer.status_code}, not 200: {answer.text[:300]}")
            return found
        check_result_images(self._fetch, self.contract().output_images, case, op.model, json_body(answer), found)
        return found

    def webhook(self, case: Case, receiver: WebhookReceiver) -> Findings:
        """Submit with a webhook to ``receiver``; the delivery must come, in the documented shape."""
        found = Findings(case.endpoint, f"webhook after {case.describe()}")
        op = self._model(case, found)
        param = _query_parameter(op, Role.WEBHOOK_URL) if op else None
        if op is None or param is None:
            if op is not None:
                found.add("webhook.parameter", f"{case.endpoint} declares no query parameter of role webhook_url")
            return found
        ticket = self._submit(case, op, found, {param: receiver.url})
        if ticket is None or self._poll(ticket, found, check_early_result=False) is None:
            return found
        settings: Mapping[str, str] = self.contract().webhook
        found.checked("webhook.delivered", "webhook.body", "webhook.status", "webhook.payload")
        delivery = receiver.wait(str(ticket["request_id"]), self.options.timeout)
        if delivery is None:
            found.add("webhook.delivered", f"no webhook for {ticket['request_id']} within {self.options.timeout:g}s")
            return found
        document = op.document
        event = f"/webhooks/{_escape(settings['event'])}/post/requestBody/content/application~1json/schema"
        for error in list(self.spec.validator(document, event).iter_errors(delivery.body))[:5]:
            found.add("webhook.body", f"the webhook body at {error.json_path}: {error.message}")
        self._check_signed(delivery, settings, found)
        status = delivery.get("status")
        if status != settings["success"]:
            found.add("webhook.status", f"the webhook of a valid request says {status!r}, not {settings['success']!r}")
            return found
        if delivery.get("payload") is None:
            return found  # not serialised (the body's schema holds it to giving the reason) or missing (to having it)
        result_op = self.index.find("GET", str(ticket["response_url"]))
        documented = documented_response(self.spec, result_op, 200) if result_op else None
        if result_op is not None and documented is not None:
            pointer = f"{documented[0]}/content/application~1json/schema"
            payload = self.spec.validator(result_op.document, pointer).iter_errors(delivery.get("payload"))
            for error in list(payload)[:5]:
                found.add("webhook.payload", f"the webhook payload at {error.json_path}: {error.message}")
        return found

    def _check_signed(self, delivery: Delivery, settings: Mapping[str, str], found: Findings) -> None:
        """The delivery's signature, verified with the keys the target publishes."""
        if "keys" not in settings:
            return  # the spec says nothing of signatures
        url = self.options.webhook_keys or f"{self.base}{self.spec.operation(settings['keys']).path}"
        try:
            answer = self.client.get(url)
            jwks = answer.json() if answer.status_code == 200 else None
            trouble = f"answered {answer.status_code}"
        except (httpx.HTTPError, ValueError) as exc:
            jwks, trouble = None, str(exc) or type(exc).__name__
        if jwks is None:
            found.add("webhook.signature", f"no key set at {url}: {trouble}")
            return
        names = self.spec.webhook_headers(DIALECT)
        max_age = float(settings["max_age_seconds"])
        check_signature(delivery.headers, delivery.raw, names, public_keys(jwks), max_age, delivery.received_at, found)

    # ---- steps -------------------------------------------------------------

    def _model(self, case: Case, found: Findings) -> Operation | None:
        op = self.spec.model(case.endpoint)
        if op is None or op.model is None:
            found.add("fixture.endpoint", f"{case.endpoint} is not a model endpoint in the spec")
            return None
        return op

    def _post(self, case: Case, params: Mapping[str, str] | None = None) -> httpx.Response:
        headers = {"Content-Type": case.content_type}
        url = f"{self.base}/{case.endpoint}"
        return self.client.post(url, content=case.payload(), headers=headers, params=params)

    def _submit(
        self, case: Case, op: Operation | None, found: Findings, params: Mapping[str, str] | None = None
    ) -> Mapping[str, Any] | None:
        assert op is not None
        answer = self._post(case, params)
        check_answer(self.spec, op, answer, found)
        if answer.status_code != case.expect.status:
            found.add(
                "valid.accepted",
                f"answered {answer.status_code}, the fixture expects {case.expect.status}: {answer.text[:300]}",
            )
            return None
        ticket = json_body(answer)
        keys = ("request_id", "status_url", "response_url", "cancel_url")
        if not isinstance(ticket, Mapping) or not all(isinstance(ticket.get(k), str) for k in keys):
            return None  # the schema check above says what is missing
        found.checked("valid.accepted")
        return ticket

    def _request(self, method: str, url: str, found: Findings, **kwargs: Any) -> httpx.Response | None:
        op = self.index.find(method, url)
        if op is None:
            found.add("queue.url", f"{method} {url}: a returned URL that matches no operation in the spec")
            return None
        try:
            answer = self.client.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            found.add("queue.url", f"{method} {url} failed: {exc}")
            return None
        check_answer(self.spec, op, answer, found)
        return answer

    def _get(self, url: str, found: Findings, **kwargs: Any) -> httpx.Response | None:
        return self._request("GET", url, found, **kwargs)

    def _poll(
        self, ticket: Mapping[str, Any], found: Findings, *, check_early_result: bool
    ) -> Mapping[str, Any] | None:
        contract = self.contract()
        transitions = contract.transitions
        warned = contract.warn_transitions
        codes = contract.status_codes
        final_state = contract.final_state
        deadline = time.monotonic() + self.options.timeout
        submitted = ticket.get("status")
        previous: str | None = submitted if submitted in transitions else None
        position: int | None = None
        early_done = not check_early_result
        early_success: tuple[str, int] | None = None  # (state then, code) of a result served while pending
        polls = 0
        while True:
            polls += 1
            answer = self._get(str(ticket["status_url"]), found, params={"logs": "1"} if polls % 2 else None)
            body = json_body(answer) if answer is not None else None
            state = _field(body, "status")
            if answer is None or not isinstance(body, Mapping) or state not in transitions:
                if answer is not None and state not in transitions:
                    found.add("lifecycle.state", f"status answered {state!r}, not one of {', '.join(transitions)}")
                return None
            found.checked(*_LIFECYCLE_RULES)
            if answer.status_code != codes.get(state):
                wanted = codes.get(state)
                found.add("lifecycle.status-code", f"status {state} answered {answer.status_code}, not {wanted}")
            if previous is not None and state in warned.get(previous, ()):
                found.warn("lifecycle.requeue", f"{previous} -> {state}: the request was re-queued")
                position = None  # a new place in the queue, not a rise
            elif previous is not None and state not in transitions[previous]:
                allowed = ", ".join(transitions[previous])
                found.add("lifecycle.transition", f"{previous} -> {state} is not allowed (after {previous}: {allowed})")
            new_position = body.get("queue_position")
            if isinstance(new_position, int) and position is not None and new_position > position:
                found.add("lifecycle.queue-position", f"queue_position rose from {position} to {new_position}")
            if isinstance(new_position, int):
                position = new_position
            previous = state
            if early_success is not None and state != final_state:
                # Still pending after the result was served: not a race with completion, a fault.
                found.add(
                    "lifecycle.result-before-completion",
                    f"result answered {early_success[1]} while the request was {early_success[0]}; "
                    "the spec documents a 4xx",
                )
            early_success = None
            if state == final_state:
                return body
            if not early_done:
                found.checked("lifecycle.result-before-completion")
                early_done = True
                code = self._early_result(ticket, found)
                early_success = (state, code) if code is not None else None
            if time.monotonic() > deadline:
                found.add("lifecycle.timeout", f"still {state} after {self.options.timeout:g}s of polling")
                return None
            time.sleep(self.options.poll_interval)

    def _early_result(self, ticket: Mapping[str, Any], found: Findings) -> int | None:
        """Fetch the result while pending; the code if it was a success (checked at the next poll)."""
        answer = self._get(str(ticket["response_url"]), found)
        return answer.status_code if answer is not None and answer.is_success else None

    def _check_cancel_code(self, outcome: Any, code: int, found: Findings) -> None:
        expected = self.contract().cancel_outcomes.get(outcome)
        found.checked("cancel.status-code")
        if expected is not None and expected != code:
            found.add("cancel.status-code", f"cancel answered {code} with {outcome}; the contract says {expected}")

    def contract(self) -> QueueContract:
        return self.spec.queue_contract(DIALECT)

def _query_parameter(op: Operation, role: Role) -> str | None:
    for param in op.parameters():
        if param.get("in") == "query" and param.get("x-mock-role") == role:
            return str(param["name"])
    return None


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, Mapping) else None


def _named_fields(body: Any) -> list[str]:
    """Field paths named by a fal 422 (``loc`` minus its leading ``body``)."""
    detail = _field(body, "detail")
    named: list[str] = []
    for issue in detail if isinstance(detail, list) else []:
        loc = _field(issue, "loc")
        if isinstance(loc, list) and loc:
            text = ""
            for part in loc[1:]:
                text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
            named.append(text or str(loc[0]))
    return named
