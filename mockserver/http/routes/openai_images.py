"""The OpenAI-compatible images API: generations, edits and the model list.

The model is picked by the body's ``model`` field (the spec's
``x-mock-models``) and its own schema validates the rest. Jobs go through the
same queue and renderer as fal's, and the answer is synchronous.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mockserver.http.bodies import read_json
from mockserver.http.context import AppContext, Endpoint, HandlerFactory
from mockserver.http.errors import ApiError, validation_failed
from mockserver.http.faults import FaultChecker
from mockserver.http.forms import Form, read_form
from mockserver.http.responses import JsonResponse
from mockserver.http.scenario_gate import ruling_of
from mockserver.http.urls import base_url
from mockserver.sim.generation import data_uri
from mockserver.sim.jobs import Job
from mockserver.spec.documents import NamedModel, Operation, SpecDocument
from mockserver.spec.roles import Role, RoleNeeds
from mockserver.spec.typed_text import typed
from mockserver.spec.validation import Issue, validate

FORM = "multipart/form-data"


def _pick_model(ctx: AppContext, field: str, name: Any) -> NamedModel:
    named = ctx.spec.named_models.get(name) if isinstance(name, str) else None
    if named is None:
        offered = ", ".join(sorted(ctx.spec.named_models))
        issue = Issue(("body", field), f"unknown model {name!r}; this server offers: {offered}", "value_error.model")
        raise validation_failed([issue])
    return named


def _with_role(fields: Mapping[str, Mapping[str, Any]], role: Role, operation: Operation) -> str:
    for name, schema in fields.items():
        if schema.get("x-mock-role") == role:
            return name
    raise LookupError(f"{operation.operation_id}: no body field plays role {role!r}")


def _check(ctx: AppContext, named: NamedModel, body: Any, renames: Mapping[str, str] | None = None) -> None:
    issues = validate(ctx.spec.validator(named.document, named.schema_pointer), body)
    if renames:  # name the field the client actually sent (e.g. an edit's "image" files)
        issues = [_renamed(i, renames) for i in issues]
    if issues:
        raise validation_failed(issues)


def _renamed(issue: Issue, renames: Mapping[str, str]) -> Issue:
    if len(issue.loc) < 2:
        return issue
    name = renames.get(str(issue.loc[1]), issue.loc[1])
    return issue.at((issue.loc[0], name, *issue.loc[2:]))


async def _serve(ctx: AppContext, request: Request, named: NamedModel, body: Mapping[str, Any]) -> Response:
    fetched = await ctx.queue.prefetch(named.info, body)
    ruling = ruling_of(request)
    job = ctx.queue.submit(named.info, body, fetched=fetched, test_id=ruling.test_id, directives=ruling.decision.job)
    await ctx.queue.wait(job)
    failure = job.failure
    if failure is not None:
        if failure.issues:
            # An input that cannot be read: a bad parameter to this provider.
            raise ApiError(400, failure.error, failure.error_type, issues=failure.issues)
        # A model that fails (a scenario rule): its own status, in this API's error shape.
        raise ApiError(failure.status_code, failure.error, failure.error_type)
    return JsonResponse(await _images_body(ctx, request, named, job, body))


async def _images_body(
    ctx: AppContext, request: Request, named: NamedModel, job: Job, body: Mapping[str, Any]
) -> dict[str, Any]:
    output = await ctx.queue.output(job)
    info = named.info.field(Role.RESPONSE_FORMAT)
    if info is None:
        raise LookupError(f"model {named.name} has no field with role response_format")
    # The chosen format names the key of each data item ("url", "b64_json").
    key = str(body.get(info.name, info.schema.get("default")))
    inline = key == info.schema.get("x-mock-inline-format")
    base = base_url(request)
    links = ctx.queue.links
    data: list[dict[str, str]] = []
    for image in output.images:
        if not inline:
            data.append({key: image.url(lambda file_id, name: links.url(base, file_id, name))})
            continue
        stored = ctx.queue.files.get(image.file_id) if image.file_id else None
        if stored is None:
            raise ApiError(500, "rendered image is no longer stored", "internal_error")
        if ctx.settings.b64_data_uri:
            data.append({key: data_uri(image.content_type, stored.data)})
        else:
            data.append({key: base64.b64encode(stored.data).decode("ascii")})
    return {"created": int(job.submitted_at), "data": data, "usage": {"input_tokens_details": {}}}


def generate(operation: Operation, ctx: AppContext) -> Endpoint:
    faults = FaultChecker(operation)
    pointer = operation.body_schema_pointer()
    if pointer is None:
        raise LookupError(f"{operation.operation_id} has no JSON body schema")
    model_field = _with_role(_schema_fields(ctx, operation.document, pointer), Role.MODEL_NAME, operation)

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        faults.check(request)
        body = await read_json(request, ctx.settings.max_body_bytes)
        issues = validate(ctx.body_validator(operation), body)
        if issues:
            raise validation_failed(issues)
        named = _pick_model(ctx, model_field, body[model_field])
        _check(ctx, named, body)
        return await _serve(ctx, request, named, body)

    return endpoint


def _schema_fields(ctx: AppContext, document: SpecDocument, pointer: str) -> dict[str, Mapping[str, Any]]:
    schema = ctx.spec.resolve({"$ref": f"#{pointer}"}, document)
    return {name: ctx.spec.resolve(p, document) for name, p in schema.get("properties", {}).items()}


def _form_body(
    ctx: AppContext, form: Form, named: NamedModel, file_fields: list[str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The JSON body a form stands for, and the renames that report problems under the form's names."""
    fields = _schema_fields(ctx, named.document, named.schema_pointer)
    body: dict[str, Any] = {}
    for name, values in form.fields.items():
        prop = fields.get(name, {})
        if prop.get("type") == "array":
            body[name] = [typed(v, prop.get("items", {}).get("type")) for v in values]
        else:
            body[name] = typed(values[-1], prop.get("type"))
    model_field = named.info.name_of(Role.MODEL_NAME)
    if model_field:
        body.setdefault(model_field, named.name)
    uploads = [f for f in form.files if f.field in file_fields]
    sent_as = uploads[0].field if uploads else (file_fields or ["image"])[0]
    target = named.info.field(Role.IMAGE_INPUT)
    if target is None:
        if uploads:
            raise validation_failed(
                [Issue(("body", sent_as), f"model {named.name} takes no input image", "value_error.image")]
            )
        return body, {}
    # Uploads become data URIs: the same capped decoder reads them as any other input image.
    uris = [data_uri(u.content_type if u.content_type.startswith("image/") else "image/*", u.data) for u in uploads]
    if len(uris) > 1 and not target.is_array:
        message = f"model {named.name} takes one image, got {len(uris)}"
        raise validation_failed([Issue(("body", sent_as), message, "value_error.list.max_items", {"limit_value": 1})])
    if uris:
        body[target.name] = uris if target.is_array else uris[0]
    return body, {target.name: sent_as}


def edit(operation: Operation, ctx: AppContext) -> Endpoint:
    faults = FaultChecker(operation)
    pointer = operation.body_schema_pointer(FORM)
    if pointer is None:
        raise LookupError(f"{operation.operation_id} has no {FORM} body schema")
    properties = _schema_fields(ctx, operation.document, pointer)
    file_fields = [name for name, p in properties.items() if p.get("x-mock-role") == Role.IMAGE_UPLOAD]
    model_field = _with_role(properties, Role.MODEL_NAME, operation)
    default_model = properties[model_field].get("default")
    settings = ctx.settings

    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        faults.check(request)
        form = await read_form(request, settings.max_body_bytes, settings.max_upload_files, settings.max_form_fields)
        chosen = form.fields[model_field][-1] if model_field in form.fields else default_model
        named = _pick_model(ctx, model_field, chosen)
        body, renames = _form_body(ctx, form, named, file_fields)
        _check(ctx, named, body, renames)
        return await _serve(ctx, request, named, body)

    return endpoint


def _model_json(named: NamedModel) -> dict[str, Any]:
    return {
        "id": named.name,
        "object": "model",
        "created": int(named.raw.get("created", 0)),
        "owned_by": str(named.raw.get("owned_by", named.name.split("/")[0])),
    }


def list_models(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        return JsonResponse({"object": "list", "data": [_model_json(m) for m in ctx.spec.named_models.values()]})

    return endpoint


def get_model(operation: Operation, ctx: AppContext) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        ctx.authorize(request, operation)
        name = request.path_params["model"]
        named = ctx.spec.named_models.get(name)
        if named is None:
            raise ApiError(404, f"The model {name} does not exist", "model_not_found")
        return JsonResponse(_model_json(named))

    return endpoint


HANDLERS: dict[str, HandlerFactory] = {
    "openai.generate": generate,
    "openai.edit": edit,
    "openai.list_models": list_models,
    "openai.get_model": get_model,
}

# What the handlers above read by role, checked against the spec at start-up.
NEEDS: dict[str, RoleNeeds] = {
    "openai.generate": RoleNeeds(
        operation=frozenset({Role.MODEL_NAME}), named_models=frozenset({Role.RESPONSE_FORMAT})
    ),
    "openai.edit": RoleNeeds(
        operation=frozenset({Role.MODEL_NAME, Role.IMAGE_UPLOAD}), named_models=frozenset({Role.RESPONSE_FORMAT})
    ),
}
