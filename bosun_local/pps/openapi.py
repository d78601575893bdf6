"""The PPS's OpenAPI document (`GET /openapi.json`): its routes with the served model's columns as the body schema.

Written by hand because the PPS is raw ASGI (no framework on the hot path); the schemathesis run in
tests/service/test_schemathesis.py holds the server to it: no 5xx for any body the document allows or not.
"""
from __future__ import annotations

from typing import Any

from bosun_local import __version__
from bosun_local.pps.inputs import Schema

_MESSAGE = {"type": "object", "properties": {"message": {"type": "string"}}, "required": ["message"]}
_V2_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}
_ROWS = {"type": "object", "properties": {"data": {"type": "array", "items": {"type": "object"}}},
         "required": ["data"]}


def _errors(codes: tuple[int, ...], body: dict[str, Any] = _MESSAGE) -> dict[str, Any]:
    return {str(code): {"description": "the request cannot be served as sent",
                        "content": {"application/json": {"schema": body}}} for code in codes}


def _row(schema: Schema) -> dict[str, Any]:
    properties = {f.name: {"type": "number"} if f.type == "numeric" else {"type": "string"}
                  for f in schema.features}
    return {"type": "object", "properties": properties, "required": list(properties)}


def _predictions(schema: Schema, summary: str) -> dict[str, Any]:
    return {"post": {
        "summary": summary,
        "requestBody": {"required": True, "content": {
            "application/json": {"schema": {"type": "array", "items": _row(schema)}},
            "text/csv": {"schema": {"type": "string"}}}},
        "responses": {"200": {"description": "one prediction per row",
                              "content": {"application/json": {"schema": _ROWS}}},
                      **_errors((400, 413, 415, 422, 503))}}}


def openapi(schema: Schema, model_name: str) -> dict[str, Any]:
    """Return the OpenAPI 3.0 document of a PPS serving a model with these columns."""
    status = {"get": {"summary": "liveness / readiness / what is served",
                      "responses": {"200": {"description": "ok", "content": {"application/json": {
                          "schema": {"type": "object"}}}}, **_errors((503,))}}}
    tensor = {"type": "object", "required": ["name", "shape", "datatype", "data"], "properties": {
        "name": {"type": "string"}, "shape": {"type": "array", "items": {"type": "integer"}},
        "datatype": {"type": "string"}, "data": {"type": "array"}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": f"bosun-local PPS: {model_name}", "version": __version__},
        "paths": {
            "/predictions": _predictions(schema, "score JSON rows or CSV with a header row"),
            "/predApi/v1.0/deployments/{deploymentId}/predictions": {
                "parameters": [{"name": "deploymentId", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                **_predictions(schema, "DataRobot's real-time predictions route")},
            "/predict": {"post": {
                "summary": "score one row given as form fields",
                "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                    "schema": _row(schema)}}},
                "responses": {"200": {"description": "the prediction",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              **_errors((400, 413, 415, 422))}}},
            f"/v2/models/{model_name}/infer": {"post": {
                "summary": "Open Inference Protocol (V2) inference",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["inputs"],
                    "properties": {"inputs": {"type": "array", "items": tensor}}}}}},
                "responses": {"200": {"description": "outputs",
                                      "content": {"application/json": {"schema": {"type": "object"}}}},
                              **_errors((400, 404, 413, 415), _V2_ERROR)}}},
            "/ping": status, "/health": status, "/info": status,
        },
    }
