"""The OpenAPI 3.1 document of a service, generated from its declared endpoints."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from acso_shared.web.api import Endpoint
from acso_shared.web.middlewares import ErrorBody

_PATH_PARAM = re.compile(r"{([^}:]+)(?::[^}]*)?}")
_ERROR_TEXT = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Not allowed for this role",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Unsupported media type",
    429: "Rate limited",
    503: "Not ready",
}


def build_openapi(title: str, version: str, endpoints: list[Endpoint]) -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    def request_ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}", mode="validation")
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, schema)
        return {"$ref": f"#/components/schemas/{model.__name__}"}

    error_ref = ref(ErrorBody)
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        path = _PATH_PARAM.sub(lambda m: "{" + m.group(1) + "}", endpoint.path)
        operation: dict[str, Any] = {
            "summary": endpoint.summary,
            "tags": [endpoint.tag],
            "operationId": f"{endpoint.method.lower()}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "responses": {},
        }
        parameters = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in _PATH_PARAM.findall(endpoint.path)
        ]
        if endpoint.query_model is not None:
            # Enums and nested models in query parameters are `$ref`s: point them at components.
            query_schema = endpoint.query_model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in query_schema.pop("$defs", {}).items():
                schemas.setdefault(name, definition)
            for name, field in endpoint.query_model.model_fields.items():
                field_schema = query_schema["properties"][name]
                parameters.append(
                    {
                        "name": field.alias or name,
                        "in": "query",
                        "required": field.is_required(),
                        "schema": field_schema,
                    }
                )
        if parameters:
            operation["parameters"] = parameters
        if endpoint.request_model is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": request_ref(endpoint.request_model)}},
            }
        success: dict[str, Any] = {"description": "OK"}
        if endpoint.response_model is not None:
            success["content"] = {"application/json": {"schema": ref(endpoint.response_model)}}
        operation["responses"][str(endpoint.status)] = success
        codes = set(endpoint.errors)
        if endpoint.request_model is not None or endpoint.query_model is not None:
            codes |= {400}
        if endpoint.request_model is not None:
            codes |= {413, 415}
        if not endpoint.public:
            codes |= {401, 403, 429}
        for code in sorted(codes):
            operation["responses"][str(code)] = {
                "description": _ERROR_TEXT.get(code, "Error"),
                "content": {"application/json": {"schema": error_ref}},
            }
        if not endpoint.public:
            operation["security"] = [{"bearerAuth": []}]
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
