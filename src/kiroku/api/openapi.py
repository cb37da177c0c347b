"""Small builders for an OpenAPI 3.1 document, so an application's spec reads as a table.

Every operation documents the problem responses it can give; a response the
document does not list is a bug that the schemathesis run in the tests finds.
"""

from __future__ import annotations

from collections.abc import Sequence

from kiroku.domain.envelope import JSON

__all__ = ["PROBLEM_SCHEMA", "json_body", "obj", "operation", "param", "problem_responses", "ref"]

PROBLEM_SCHEMA: dict[str, JSON] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
}

_REASONS = {
    400: "Malformed request", 401: "Missing or invalid token", 403: "Not allowed",
    404: "Unknown room, message or projection", 409: "Concurrency conflict",
    413: "Request body too large", 422: "Rejected by the domain",
    503: "Overloaded, shutting down, or the read model is behind",
}  # fmt: skip


def ref(name: str) -> dict[str, JSON]:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: list[str], **props: JSON) -> dict[str, JSON]:
    """An object schema. Extra properties are allowed: clients ignore what they do not know."""
    req: list[JSON] = list(required)
    return {"type": "object", "required": req, "properties": dict(props)}


def param(name: str, where: str, schema: JSON, *, required: bool = False) -> dict[str, JSON]:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema}


def json_body(schema: JSON) -> dict[str, JSON]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def problem_responses(*statuses: int) -> dict[str, JSON]:
    problem: JSON = {"application/problem+json": {"schema": ref("Problem")}}
    return {str(s): {"description": _REASONS.get(s, "Error"), "content": problem} for s in statuses}


def operation(
    summary: str,
    ok: int,
    schema: JSON,
    *,
    errors: tuple[int, ...],
    params: Sequence[JSON] | None = None,
    body: JSON | None = None,
    media: str = "application/json",
    secure: bool = True,
) -> dict[str, JSON]:
    op: dict[str, JSON] = {
        "summary": summary,
        "parameters": list(params or []),
        "responses": {
            str(ok): {"description": "OK", "content": {media: {"schema": schema}}},
            **problem_responses(*errors),
        },
    }
    if body is not None:
        op["requestBody"] = body
    if not secure:
        op["security"] = []
    return op
