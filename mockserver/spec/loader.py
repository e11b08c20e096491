"""The OpenAPI documents in ``specs/``, compiled once into operations.

Everything the mock knows about an endpoint comes from here: its path and
method, the code that serves it (``x-mock-handler``), the validator of its
body, and for model endpoints the role each body field plays
(``x-mock-role``), so that no field name, enum or range is written in Python.

A :class:`Spec` is read-only once built (tuples, read-only mappings, frozen
dataclasses; validators and lookups cached on first use), so the default
documents are loaded once per process (:func:`default_spec`) and shared by
every app built from them.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urljoin

import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mockserver.spec import declared_headers
from mockserver.spec.contract import QueueContract
from mockserver.spec.documents import HTTP_METHODS, NamedModel, Operation, SpecDocument, SpecError, pointer_segment
from mockserver.spec.formats import FORMAT_CHECKER
from mockserver.spec.hosts import HostMap, read_hosts
from mockserver.spec.model_info import Billing, FieldInfo, ModelInfo
from mockserver.spec.refs import NotInlinable, inline
from mockserver.spec.roles import Role, RoleNeeds, unknown_roles
from mockserver.spec.yaml_files import read_yaml

_PACKAGE = Path(__file__).resolve().parent.parent
# A wheel carries the documents inside the package; a checkout has them at its top.
_PACKAGED = _PACKAGE / "specs"
SPEC_DIR = _PACKAGED if _PACKAGED.is_dir() else _PACKAGE.parent / "specs"
def default_spec_paths() -> list[Path]:
    return sorted(SPEC_DIR.glob("*.yaml"))


_default: Spec | None = None
_default_lock = threading.Lock()


def default_spec() -> Spec:
    """The spec of the default documents, loaded on first use and shared by the whole process."""
    global _default
    with _default_lock:  # mocks started from several threads at once still load it once
        if _default is None:
            _default = Spec.load()
        return _default


class Spec:
    """One or more OpenAPI documents, with validators built once and reused."""

    def __init__(self, documents: Iterable[tuple[str, dict[str, Any]]]) -> None:
        loaded: list[SpecDocument] = []
        registry: Registry[Any] = Registry()
        for uri, raw in documents:
            if not isinstance(raw, dict) or "paths" not in raw:
                raise SpecError(f"{uri}: not an OpenAPI document")
            for unknown in unknown_roles(raw):
                raise SpecError(f"{uri}: {unknown} (known roles: {', '.join(sorted(Role))})")
            loaded.append(SpecDocument(self, uri, raw))
            registry = registry.with_resource(
                uri, Resource.from_contents(raw, default_specification=DRAFT202012)
            )
        self.documents: tuple[SpecDocument, ...] = tuple(loaded)
        self._registry = registry.crawl()
        self._answer_headers = declared_headers.answer_headers(self.documents, self.resolve)
        self._contracts = self._read_contracts()
        self.hosts: HostMap = read_hosts(self.documents)  # where the real service serves each path
        self._webhook_headers = declared_headers.webhook_headers(self.documents, self._contracts, self.resolve)
        self.operations: tuple[Operation, ...] = tuple(op for doc in self.documents for op in self._compile(doc))
        self._models = MappingProxyType({op.model.endpoint_id: op for op in self.operations if op.model})
        named_models: dict[str, NamedModel] = {}
        for doc in self.documents:
            for named in self._compile_named(doc):
                if named.name in named_models:
                    raise SpecError(f"{doc.uri}: model {named.name!r} is declared twice")
                named_models[named.name] = named
        self.named_models: Mapping[str, NamedModel] = MappingProxyType(named_models)

    @classmethod
    def load(cls, paths: Iterable[Path | str] | None = None) -> Spec:
        chosen = [Path(p) for p in paths] if paths is not None else default_spec_paths()
        if not chosen:
            raise SpecError("no spec files given")
        docs = []
        for path in chosen:
            try:
                raw = read_yaml(path)
            except (OSError, yaml.YAMLError) as exc:
                raise SpecError(f"cannot read spec {path}: {exc}") from exc
            docs.append((path.resolve().as_uri(), raw))
        return cls(docs)

    # ---- lookups -----------------------------------------------------------

    @functools.cached_property
    def admin_prefix(self) -> str:
        """The path prefix of the mock's own routes (the ``x-mock-extension`` document's): steering, not journalled."""
        prefixes = {doc.path_prefix for doc in self.documents if doc.is_extension} - {""}
        if len(prefixes) != 1:
            raise SpecError(f"x-mock-extension documents need one x-mock-path-prefix; found {sorted(prefixes)}")
        return prefixes.pop()

    @functools.cached_property
    def test_id_header(self) -> str:
        """The request header (lower-case) that names a request's test: the header parameter
        with ``x-mock-role: test_id``."""
        names: set[str] = set()
        for doc in self.documents:
            params = list(doc.raw.get("components", {}).get("parameters", {}).values())
            for item in doc.raw["paths"].values():
                params.extend(item.get("parameters", []))
                for method in HTTP_METHODS:
                    params.extend(item.get(method, {}).get("parameters", []))
            for param in params:
                resolved = self.resolve(param, doc)
                if resolved.get("in") == "header" and resolved.get("x-mock-role") == Role.TEST_ID:
                    names.add(str(resolved["name"]).lower())
        if len(names) != 1:
            found = ", ".join(sorted(names)) or "none"
            raise SpecError(f"the spec needs one header parameter with x-mock-role {Role.TEST_ID}, found {found}")
        return names.pop()

    def request_id_header(self, dialect: str) -> str:
        """The response header (lower-case) an API's answers carry their request id in: the one
        its documents give ``x-mock-role: request_id``."""
        name = self.answer_header(dialect, Role.REQUEST_ID)
        if name is None:
            raise SpecError(f"no {dialect} document declares a response header with x-mock-role {Role.REQUEST_ID}")
        return name

    def answer_header(self, dialect: str, role: Role) -> str | None:
        """The response header (lower-case) that has ``role`` in a dialect's documents, if any declares one."""
        return self._answer_headers.get(dialect, {}).get(role)

    def answer_header_names(self, role: Role) -> tuple[str, ...]:
        """The headers that have ``role`` in any dialect, for readers of answers of every API."""
        return tuple(sorted({names[role] for names in self._answer_headers.values() if role in names}))

    def queue_contract(self, dialect: str) -> QueueContract:
        """The queue lifecycle of a dialect's documents (their ``x-contract`` block)."""
        contract = self._contracts.get(dialect)
        if contract is None:
            raise SpecError(f"no {dialect} document has an x-contract block")
        return contract

    def webhook_headers(self, dialect: str) -> Mapping[Role, str]:
        """The headers of a dialect's webhook (its ``x-contract.webhook.event``), by role."""
        headers = self._webhook_headers.get(dialect)
        if headers is None:
            raise SpecError(f"no {dialect} document names a webhook event in x-contract.webhook")
        return headers

    def _read_contracts(self) -> Mapping[str, QueueContract]:
        found: dict[str, QueueContract] = {}
        for doc in self.documents:
            # Only an API with a queue lifecycle has one; others' x-contract blocks hold other facts.
            if "transitions" not in doc.raw.get("x-contract", {}):
                continue
            if doc.dialect in found:
                raise SpecError(f"{doc.uri}: a second x-contract block for the {doc.dialect} dialect")
            try:
                found[doc.dialect] = QueueContract.read(doc.raw["x-contract"])
            except ValueError as exc:
                raise SpecError(f"{doc.uri}: x-contract: {exc}") from exc
        return MappingProxyType(found)

    def model(self, endpoint_id: str) -> Operation | None:
        return self._models.get(endpoint_id.strip("/"))

    def models(self) -> list[Operation]:
        return list(self._models.values())

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)

    def document_for_path(self, path: str) -> SpecDocument:
        """The document whose path prefix is the longest match for a URL path."""
        for prefix, doc in self.by_prefix:
            if path.startswith(prefix):
                return doc
        return self.documents[0]

    @functools.cached_property
    def by_prefix(self) -> tuple[tuple[str, SpecDocument], ...]:
        """Documents with a path prefix, longest first (the first that fits is the longest match)."""
        prefixed = [(doc.path_prefix, doc) for doc in self.documents if doc.path_prefix]
        return tuple(sorted(prefixed, key=lambda pair: -len(pair[0])))

    def resolve(self, node: Any, document: SpecDocument | None = None) -> Any:
        """Follow local ``$ref``s, merging sibling keywords over the target."""
        doc = document or self.documents[0]
        seen = 0
        merged: dict[str, Any] = {}
        while isinstance(node, Mapping) and "$ref" in node:
            seen += 1
            if seen > 32:
                raise SpecError(f"$ref cycle at {node['$ref']}")
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            merged = {**siblings, **merged}
            node, doc = self._locate(node["$ref"], doc)
        if isinstance(node, Mapping):
            return {**node, **merged}
        return node

    def _lookup(self, ref: str, doc: SpecDocument) -> Any:
        return self._locate(ref, doc)[0]

    def _locate(self, ref: str, doc: SpecDocument) -> tuple[Any, SpecDocument]:
        """The target of ``ref`` and the document it lives in (refs inside it are relative to that one)."""
        # Relative refs (``other.yaml#/...``) name a sibling document.
        uri = doc.uri + ref if ref.startswith("#") else urljoin(doc.uri, ref)
        target = next((d for d in self.documents if d.uri == uri.partition("#")[0]), doc)
        try:
            return self._registry.resolver().lookup(uri).contents, target
        except Exception as exc:  # referencing raises several unrelated types
            # The library's message can quote a whole document: keep ours short.
            raise SpecError(f"{doc.uri}: unresolvable $ref {ref} ({type(exc).__name__})") from exc

    # ---- roles -------------------------------------------------------------

    def operation_roles(self, op: Operation) -> frozenset[Role]:
        """The roles an operation's body fields (any media type) and parameters play."""
        found: set[Role] = set()
        for param in op.parameters():
            if "x-mock-role" in param:
                found.add(Role(param["x-mock-role"]))
        for media_type in op.raw.get("requestBody", {}).get("content", {}):
            pointer = op.body_schema_pointer(media_type)
            if pointer is None:
                continue
            schema = self.resolve({"$ref": f"#{pointer}"}, op.document)
            for prop in schema.get("properties", {}).values():
                resolved = self.resolve(prop, op.document)
                if resolved.get("type") == "array" and "items" in resolved:
                    resolved = {**self.resolve(resolved["items"], op.document), **resolved}
                if "x-mock-role" in resolved:
                    found.add(Role(resolved["x-mock-role"]))
        return frozenset(found)

    def check_needs(self, needs: Mapping[str, RoleNeeds]) -> None:
        """Stop start-up when a handler reads a role its operation, or a model it serves, cannot give."""
        for op in self.operations:
            need = needs.get(op.handler)
            if need is None:
                continue
            missing = need.operation - self.operation_roles(op)
            if missing:
                raise SpecError(
                    f"{op.document.uri}: operation {op.operation_id}: handler {op.handler} needs a field"
                    f" with x-mock-role {', '.join(sorted(missing))}"
                )
            for named in self.named_models.values() if need.named_models else ():
                missing = need.named_models - set(named.info.fields)
                if missing:
                    raise SpecError(
                        f"{named.document.uri}: model {named.name}: handler {op.handler} needs a field"
                        f" with x-mock-role {', '.join(sorted(missing))}"
                    )

    # ---- validators --------------------------------------------------------

    def validator(self, document: SpecDocument, pointer: str) -> Draft202012Validator:
        return self._validator(document.uri, pointer)

    def schema_validator(self, schema_name: str) -> Draft202012Validator:
        """Validator for ``#/components/schemas/<name>`` in whichever document has it."""
        for doc in self.documents:
            if schema_name in doc.raw.get("components", {}).get("schemas", {}):
                return self._validator(doc.uri, f"/components/schemas/{pointer_segment(schema_name)}")
        raise KeyError(schema_name)

    def property_names(self, document: SpecDocument, pointer: str) -> frozenset[str] | None:
        """Names of the properties the object schema at ``pointer`` declares (None: not an object schema)."""
        return self._property_names(document.uri, pointer)

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one Spec lives as long as the app
    def _property_names(self, uri: str, pointer: str) -> frozenset[str] | None:
        document = next(d for d in self.documents if d.uri == uri)
        known = self.resolve({"$ref": f"#{pointer}"}, document).get("properties")
        return frozenset(known) if isinstance(known, Mapping) else None

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one Spec lives as long as the app
    def _validator(self, uri: str, pointer: str) -> Draft202012Validator:
        ref = f"{uri}#{quote(pointer, safe='/~')}"
        try:
            # Following $refs through the registry costs more than the checks
            # themselves; a schema with its refs written in place validates
            # the same instances several times faster.
            schema: Any = inline({"$ref": ref}, uri, self._lookup_uri, ())
        except NotInlinable:
            schema = {"$ref": ref}
        return Draft202012Validator(schema, registry=self._registry, format_checker=FORMAT_CHECKER)

    def _lookup_uri(self, uri: str) -> Any:
        try:
            return self._registry.resolver().lookup(uri).contents
        except Exception as exc:  # referencing raises several unrelated types
            raise SpecError(f"unresolvable $ref {uri}: {exc}") from exc

    # ---- compilation -------------------------------------------------------

    def _compile(self, doc: SpecDocument) -> Iterator[Operation]:
        for path, item in doc.raw["paths"].items():
            for method in HTTP_METHODS:
                raw = item.get(method)
                handler = raw.get("x-mock-handler") if raw is not None else None
                if not handler:
                    continue  # no such method, or documented only: nothing in the mock serves it
                pointer = f"/paths/{pointer_segment(path)}/{method}"
                op_id = raw.get("operationId") or f"{method} {path}"
                op = Operation(doc, path, method.upper(), op_id, handler, pointer, raw)
                if "x-mock-model" in raw:
                    op = Operation(
                        doc, path, method.upper(), op_id, handler, pointer, raw, self._model_info(op)
                    )
                yield op

    def _model_info(self, op: Operation) -> ModelInfo:
        settings = op.raw["x-mock-model"]
        schema_pointer = op.body_schema_pointer()
        if schema_pointer is None:
            raise SpecError(f"{op.operation_id}: a model operation needs a JSON body schema")
        endpoint_id = str(settings.get("endpoint_id", op.path)).strip("/")
        prefix = op.document.path_prefix.strip("/")
        if prefix and endpoint_id.startswith(prefix + "/"):
            endpoint_id = endpoint_id[len(prefix) + 1 :]
        return self.model_info(op.document, schema_pointer, endpoint_id, settings)

    def model_info(
        self, document: SpecDocument, schema_pointer: str, endpoint_id: str, settings: Mapping[str, Any]
    ) -> ModelInfo:
        """What the body schema at ``schema_pointer`` means, from the roles of its fields."""
        schema = self.resolve(self._lookup(f"#{schema_pointer}", document), document)
        fields: dict[Role, FieldInfo] = {}
        defaults: dict[str, Any] = {}
        for name, prop in schema.get("properties", {}).items():
            resolved = self.resolve(prop, document)
            if resolved.get("type") == "array" and "items" in resolved:
                # An array of a role-bearing item (e.g. image URLs) plays that role.
                item = self.resolve(resolved["items"], document)
                resolved = {**resolved, "x-mock-role": resolved.get("x-mock-role", item.get("x-mock-role"))}
            if resolved.get("x-mock-role"):
                role = Role(resolved["x-mock-role"])
                if role in fields:
                    raise SpecError(f"{endpoint_id}: two fields play role {role!r}")
                fields[role] = FieldInfo(name, resolved)
            if "default" in resolved:
                defaults[name] = resolved["default"]
        billing = None
        if settings.get("billing") is not None:
            try:
                billing = Billing.read(settings["billing"])
            except ValueError as exc:
                raise SpecError(f"{document.uri}: model {endpoint_id}: {exc}") from exc
        return ModelInfo(
            endpoint_id=endpoint_id,
            title=str(settings.get("title", endpoint_id)),
            timing=document.timing(settings),
            fields=MappingProxyType(fields),
            defaults=MappingProxyType(defaults),
            image_format=str(settings.get("output_format", "jpeg")),
            billing=billing,
        )

    def _compile_named(self, doc: SpecDocument) -> Iterator[NamedModel]:
        for name, entry in doc.raw.get("x-mock-models", {}).items():
            ref = str(entry.get("schema", ""))
            if not ref.startswith("#/"):
                raise SpecError(f"{doc.uri}: model {name!r} needs a local 'schema' ref")
            settings = dict(entry)
            endpoint_id = str(name)
            # A model that renders as a fal endpoint shares its label and timing: same seed, same pixels.
            twin = self.model(str(entry["renders_as"])) if "renders_as" in entry else None
            if "renders_as" in entry:
                if twin is None or twin.model is None:
                    raise SpecError(f"{doc.uri}: model {name!r} renders as unknown endpoint {entry['renders_as']!r}")
                endpoint_id = twin.model.endpoint_id
                timing = twin.model.timing
                settings = {**dataclasses.asdict(timing), **settings}
                settings.setdefault("title", twin.model.title)
            info = self.model_info(doc, ref[1:], endpoint_id, settings)
            yield NamedModel(str(name), doc, ref[1:], info, entry)
