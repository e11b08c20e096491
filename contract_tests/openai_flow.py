"""Driving an OpenAI-compatible images server through the contract.

The operations, the provider's error table and where the images are come from
the document's ``x-contract`` block; what each body field means from the roles
of the named model's schema (``x-mock-models``). One POST answers at once, so
the flow is: send, check the answer against its operation, then check the
images (count, format key, decodable, size for the aspect ratio).
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Mapping
from typing import Any

import httpx
from PIL import Image

from contract_tests.cases import Case, expand_images, image_path
from contract_tests.report import Findings
from contract_tests.response_checks import check_answer, json_body
from mockserver.testing import NamedModel, Operation, Role, Spec, SpecDocument

DIALECT = "openai"


def openai_document(spec: Spec) -> SpecDocument | None:
    for document in spec.documents:
        if document.dialect == DIALECT and "x-contract" in document.raw:
            return document
    return None


class OpenAIFlow:
    def __init__(self, spec: Spec, client: httpx.Client, base_url: str) -> None:
        document = openai_document(spec)
        if document is None:
            raise LookupError("no openai document with an x-contract block")
        self.spec = spec
        self.client = client
        self.base = base_url.rstrip("/")
        self.contract: Mapping[str, Any] = document.raw["x-contract"]

    def _operation(self, role: str) -> Operation:
        return self.spec.operation(str(self.contract["operations"][role]))

    def _url(self, op: Operation, **params: str) -> str:
        return self.base + op.path.format(**params)

    # ---- the kinds of test ---------------------------------------------------

    def valid(self, case: Case) -> Findings:
        found = Findings(case.endpoint, case.describe())
        named = self._model(case, found)
        if named is None:
            return found
        body = self._body(case, named)
        answer = self._send(case, body, found)
        if answer is None:
            return found
        found.checked("valid.accepted")
        if answer.status_code != case.expect.status:
            found.add("valid.accepted", f"answered {answer.status_code}, the fixture expects {case.expect.status}: "
                      f"{answer.text[:300]}")
            return found
        self._check_images(named, body, json_body(answer), found)
        return found

    def invalid(self, case: Case) -> Findings:
        found = Findings(case.endpoint, case.describe())
        named = self._model(case, found)
        if named is None:
            return found
        answer = self._send(case, self._body(case, named), found)
        if answer is None:
            return found
        wanted = case.expect.status
        found.checked("invalid.accepted", "invalid.status", "error.code")
        if answer.is_success:
            found.add("invalid.accepted", f"answered {answer.status_code}; the spec says {wanted}")
            return found
        if answer.status_code != wanted:
            found.add("invalid.status", f"answered {answer.status_code}; the spec says {wanted}")
        error = _field(json_body(answer), "error")
        codes: Mapping[Any, Mapping[str, str]] = self.contract["error_codes"]
        table = codes.get(answer.status_code) or codes.get(str(answer.status_code))
        if table and isinstance(error, Mapping):
            for key, value in table.items():
                if error.get(key) != value:
                    found.add("error.code", f"a {answer.status_code} has error.{key} {error.get(key)!r}, not {value!r}")
        message = _field(error, "message")
        if case.expect.field:
            found.checked("invalid.field")
            if not isinstance(message, str) or case.expect.field not in message:
                found.add("invalid.field", f"the error message {message!r} does not name {case.expect.field!r}")
        return found

    def models(self) -> Findings:
        """The model list names every model of the spec, and each can be fetched on its own."""
        found = Findings("/v1/models", "the model list")
        listing = self._operation("models")
        answer = self._get(listing, found)
        if answer is None:
            return found
        data = _field(json_body(answer), "data")
        listed = {_field(item, "id") for item in data} if isinstance(data, list) else set()
        found.checked("models.listed")
        for name in self.spec.named_models:
            if name not in listed:
                found.add("models.listed", f"{name} is not in the model list")
        one = self._operation("model")
        for name in self.spec.named_models:
            self._get(one, found, model=name)
        return found

    def edit(self, case: Case) -> Findings:
        """The mock's multipart edit route: one fixture image as the upload."""
        found = Findings(case.endpoint, f"multipart edit, {case.describe()}")
        named = self._model(case, found)
        if named is None:
            return found
        op = self._operation("edit")
        upload = _upload_field(self.spec, op)
        model_field = named.info.name_of(Role.MODEL_NAME)
        if upload is None or model_field is None:
            found.add("edit.form", f"{op.operation_id} declares no image_upload field")
            return found
        path = image_path("square.png")
        fields = {model_field: case.endpoint}
        prompt = named.info.name_of(Role.PROMPT)
        if prompt:
            fields[prompt] = "conformance edit"
        try:
            answer = self.client.post(
                self._url(op), data=fields, files={upload: (path.name, path.read_bytes(), "image/png")}
            )
        except httpx.HTTPError as exc:
            found.add("edit.status", f"POST {self._url(op)} failed: {exc}")
            return found
        check_answer(self.spec, op, answer, found)
        found.checked("edit.status")
        if answer.status_code != 200:
            found.add("edit.status", f"answered {answer.status_code}, not 200: {answer.text[:300]}")
            return found
        self._check_images(named, dict(fields), json_body(answer), found)
        return found

    # ---- steps -------------------------------------------------------------

    def _model(self, case: Case, found: Findings) -> NamedModel | None:
        named = self.spec.named_models.get(case.endpoint)
        if named is None:
            found.add("fixture.endpoint", f"{case.endpoint} is not a model in the spec")
        return named

    def _body(self, case: Case, named: NamedModel) -> Any:
        """The fixture's body, naming the model unless it names one itself (an unknown model, say)."""
        body = expand_images(case.body)
        name = named.info.name_of(Role.MODEL_NAME)
        if isinstance(body, Mapping) and name and name not in body:
            return {name: case.endpoint, **body}
        return body

    def _send(self, case: Case, body: Any, found: Findings) -> httpx.Response | None:
        op = self._operation("generate")
        url = self._url(op)
        content = case.raw.encode("utf-8") if case.raw is not None else httpx.Request("POST", url, json=body).content
        try:
            answer = self.client.post(url, content=content, headers={"Content-Type": case.content_type})
        except httpx.HTTPError as exc:
            found.add("valid.accepted", f"POST {url} failed: {exc}")
            return None
        check_answer(self.spec, op, answer, found)
        return answer

    def _get(self, op: Operation, found: Findings, **params: str) -> httpx.Response | None:
        url = self._url(op, **params)
        try:
            answer = self.client.get(url)
        except httpx.HTTPError as exc:
            found.add("response.status", f"GET {url} failed: {exc}")
            return None
        check_answer(self.spec, op, answer, found)
        if answer.status_code != 200:
            found.add("response.status", f"GET {url} answered {answer.status_code}, not 200")
            return None
        return answer

    def _check_images(self, named: NamedModel, body: Any, answer: Any, found: Findings) -> None:
        items = _field(answer, str(self.contract["output_images"]["list"]))
        if not isinstance(items, list):
            return  # the schema check names the missing list
        info = named.info
        sent = body if isinstance(body, Mapping) else {}

        def requested(role: Role) -> Any:
            name = info.name_of(role)
            return sent.get(name, info.defaults.get(name)) if name else None

        found.checked("result.image-count", "result.format", "result.size", "image.decode")
        count = requested(Role.NUM_IMAGES)
        if isinstance(count, str) and count.isdigit():  # a form field
            count = int(count)
        if isinstance(count, int) and len(items) != count:
            found.add("result.image-count", f"{len(items)} images for {info.name_of(Role.NUM_IMAGES)} {count}")
        key = requested(Role.RESPONSE_FORMAT)
        ratio = requested(Role.ASPECT_RATIO)
        wanted = info.sizes.get(ratio) if isinstance(ratio, str) else None
        format_field = info.field(Role.RESPONSE_FORMAT)
        inline = format_field.schema.get("x-mock-inline-format") if format_field else None
        for i, item in enumerate(items):
            value = _field(item, key) if isinstance(key, str) else None
            if not isinstance(value, str):
                found.add("result.format", f"data[{i}] has no {key!r} for response_format {key!r}")
                continue
            data = self._image_bytes(i, key, key == inline, value, found)
            if data is None:
                continue
            try:
                with Image.open(io.BytesIO(data)) as picture:
                    size = picture.size
            except Exception as exc:  # Pillow raises many types for bad data
                found.add("image.decode", f"data[{i}] is not a readable image: {exc}")
                continue
            if wanted and size != wanted:
                found.add(
                    "result.size",
                    f"data[{i}] is {size[0]}x{size[1]}; aspect_ratio {ratio!r} means {wanted[0]}x{wanted[1]}",
                )

    def _image_bytes(self, i: int, key: str, inline: bool, value: str, found: Findings) -> bytes | None:
        if inline:
            # The provider prefixes a data: header; plain OpenAI sends bare base64. Both are read.
            payload = value.partition(",")[2] if value.startswith("data:") else value
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError):
                found.add("image.decode", f"data[{i}].{key} is not valid base64")
                return None
        try:
            answer = httpx.get(value, timeout=self.client.timeout)  # a file URL: no credentials
        except httpx.HTTPError as exc:
            found.add("image.decode", f"data[{i}] GET {value} failed: {exc}")
            return None
        if answer.status_code != 200:
            found.add("image.decode", f"data[{i}] GET {value} answered {answer.status_code}")
            return None
        return answer.content


def _upload_field(spec: Spec, op: Operation) -> str | None:
    pointer = op.body_schema_pointer("multipart/form-data")
    if pointer is None:
        return None
    schema = spec.resolve(spec.validator(op.document, pointer).schema, op.document)
    for name, prop in schema.get("properties", {}).items():
        if spec.resolve(prop, op.document).get("x-mock-role") == Role.IMAGE_UPLOAD:
            return str(name)
    return None


def _field(body: Any, name: str) -> Any:
    return body.get(name) if isinstance(body, Mapping) else None
