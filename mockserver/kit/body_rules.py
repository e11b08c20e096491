"""Body rules: a request body judged against the schema of the model it names.

On fal the path names the model (the run host takes any model's body under
one route); on the OpenAI-compatible API the body's ``model`` field does
(the field with role ``model_name``), so the body is judged against the
envelope and then the chosen model's own schema, JSON or multipart form
alike. Field names, types and roles all come from the spec.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from mockserver.kit.journal import Violation
from mockserver.kit.rule_table import violation
from mockserver.sim.generation import data_uri
from mockserver.spec import jsontext
from mockserver.spec.documents import JSON, NamedModel, Operation, SpecDocument
from mockserver.spec.loader import Spec
from mockserver.spec.roles import Role
from mockserver.spec.typed_text import typed
from mockserver.spec.validation import Issue, validate

FORM = "multipart/form-data"


class BodyRules:
    def __init__(self, spec: Spec) -> None:
        self._spec = spec

    def check(
        self, op: Operation, path_params: Mapping[str, str], content_type: str, raw: bytes, *, read: bool = True
    ) -> list[Violation]:
        """The body's violations; ``read`` False: the mock answered first, so only its media type is judged."""
        op = self._model_operation(op, path_params)
        media = content_type.split(";")[0].strip().lower()
        json_pointer, form_pointer = op.body_schema_pointer(), op.body_schema_pointer(FORM)
        if json_pointer is None and form_pointer is None:
            return []
        if form_pointer is not None and (media == FORM or json_pointer is None):
            if media != FORM:
                return [violation("body.content-type", f"body sent as {media!r}; the operation takes {FORM}")]
            if not read:
                return []
            return self._form(op, form_pointer, content_type, raw)
        assert json_pointer is not None
        if media and media != JSON and not media.endswith("+json"):
            return [violation("body.content-type", f"body sent as {media!r}; the operation takes {JSON}")]
        if not read:
            return []
        try:
            body = jsontext.loads(raw)
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            return [violation("body.json", f"body is not valid JSON: {exc}")]
        return self._judge(op, op.document, json_pointer, body, self._named(op.document, json_pointer, body))

    def _model_operation(self, op: Operation, path_params: Mapping[str, str]) -> Operation:
        if op.model is None and "endpoint_id" in path_params:
            return self._spec.model(path_params["endpoint_id"]) or op  # the run host takes any model's body
        return op

    def _role_field(self, document: SpecDocument, pointer: str, role: str) -> str | None:
        schema = self._spec.resolve({"$ref": f"#{pointer}"}, document)
        for name, prop in schema.get("properties", {}).items():
            if self._spec.resolve(prop, document).get("x-mock-role") == role:
                return str(name)
        return None

    def _named(self, document: SpecDocument, pointer: str, body: Any, default: Any = None) -> NamedModel | None:
        """The model the body names by its ``model_name`` field, when the envelope has one."""
        field = self._role_field(document, pointer, "model_name")
        if field is None:
            return None
        name = body.get(field, default) if isinstance(body, Mapping) else None
        return self._spec.named_models.get(name) if isinstance(name, str) else None

    def _judge(
        self, op: Operation, document: SpecDocument, pointer: str, body: Any, named: NamedModel | None
    ) -> list[Violation]:
        issues = list(validate(self._spec.validator(document, pointer), body))
        known = set(self._spec.property_names(document, pointer) or ())
        where = op.operation_id
        if named is not None:
            issues += validate(self._spec.validator(named.document, named.schema_pointer), body)
            known |= self._spec.property_names(named.document, named.schema_pointer) or frozenset()
            where = f"model {named.name!r}"
        found = [violation(f"schema.{i.type}", i.msg, i.field_path) for i in _unique(issues)]
        if isinstance(body, Mapping) and known:
            found += [
                violation(
                    "schema.unknown-field",
                    f"field {name!r} is not in {where}'s input schema; the server ignores it",
                    str(name),
                )
                for name in body
                if name not in known
            ]
        return found

    def _form(self, op: Operation, pointer: str, content_type: str, raw: bytes) -> list[Violation]:
        parts = _form_parts(content_type, raw)
        if parts is None:
            return [violation("body.form", "the multipart body has no parts that can be read")]
        envelope = self._spec.resolve({"$ref": f"#{pointer}"}, op.document)
        props = {n: self._spec.resolve(p, op.document) for n, p in envelope.get("properties", {}).items()}
        uploads = {n for n, p in props.items() if p.get("x-mock-role") == "image_upload"}
        model_field = self._role_field(op.document, pointer, "model_name")
        texts = {name: value for name, value, filename, _ in parts if filename is None and name not in uploads}
        default = props.get(model_field or "", {}).get("default")
        named = self._named(op.document, pointer, texts, default)
        if named is None:
            return self._judge(op, op.document, pointer, texts, None)
        # The form stands for a body of the model's schema: text typed by it, files in its input field.
        fields = {n: self._spec.resolve(p, named.document) for n, p in _properties(self._spec, named).items()}
        body: dict[str, Any] = {}
        for name, value in texts.items():
            body[name] = typed(value, fields.get(name, {}).get("type"))
        if model_field:
            body.setdefault(model_field, named.name)
        target = named.info.field(Role.IMAGE_INPUT)
        files = [data_uri(ctype, data) for name, data, filename, ctype in parts if filename and name in uploads]
        if target is not None and files:
            body[target.name] = files if target.is_array else files[0]
        found = self._judge(op, named.document, named.schema_pointer, body, None)
        return [v for v in found if v.field not in uploads]


def _properties(spec: Spec, named: NamedModel) -> Mapping[str, Any]:
    schema = spec.resolve({"$ref": f"#{named.schema_pointer}"}, named.document)
    properties: Mapping[str, Any] = schema.get("properties", {})
    return properties


def _form_parts(content_type: str, raw: bytes) -> list[tuple[str, Any, str | None, str]] | None:
    """(name, text or bytes, filename, content type) of each part; None when it is not a multipart body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        return None
    parts: list[tuple[str, Any, str | None, str]] = []
    for part in message.iter_parts():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        payload = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is None:
            parts.append((name, payload.decode("utf-8", "replace"), None, ""))
        else:
            parts.append((name, payload, filename, part.get_content_type()))
    return parts or None


def _unique(issues: Iterable[Issue]) -> list[Issue]:
    seen: set[tuple[Any, ...]] = set()
    kept: list[Issue] = []
    for issue in issues:
        key = (tuple(issue.loc), issue.type)
        if key not in seen:
            seen.add(key)
            kept.append(issue)
    return kept
