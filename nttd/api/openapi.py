"""The OpenAPI description served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

_ERROR = {"$ref": "#/components/schemas/Error"}
_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_CASE_STATUSES = ["received", "resolving", "resolved", "routed", "notified", "monitoring",
                  "removed", "closed", "hold", "unresolvable", "reappeared"]


def _resp(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"description": description}
    if schema is not None:
        body["content"] = {"application/json": {"schema": schema}}
    return body


_WHY = {
    "400": "malformed request (the body, a field or a query parameter); nothing changed",
    "401": "missing or invalid token (with WWW-Authenticate)",
    "403": "wrong role",
    "404": "no such case, or not one this user may see",
    "409": "not possible in the case's status; nothing changed",
    "413": "the body is too large",
    "415": "the body is not sent as JSON",
    "422": "invalid URLs; nothing stored",
}


def _errors(*codes: str) -> dict[str, Any]:
    """The error answers of an operation: JSON `Error` bodies."""
    return {code: _resp(_WHY[code], _ERROR) for code in ("401", "403", *codes)}


_BODY_ERRORS = ("400", "413", "415")
_ERRORS = _errors()
_NOTE_BODY = {
    "required": False,
    "content": {"application/json": {"schema": {
        "type": "object", "properties": {"note": {"type": "string"}}}}},
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "nttd",
        "version": "1",
        "description": "Notice-and-takedown coordination. URLs and metadata only: nttd never "
                       "downloads, stores or forwards media.",
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"},
                "problems": {"type": "array", "items": {"type": "object", "properties": {
                    "index": {"type": "integer"}, "url": {"type": "string"},
                    "reason": {"type": "string"}}}}}},
            "Submission": {"type": "object", "required": ["urls"], "properties": {
                "urls": {"type": "array", "minItems": 1, "maxItems": 10000,
                         "items": {"type": "string"}},
                "classification": {"type": "string", "nullable": True},
                "content_type": {"type": "string", "nullable": True},
                "reference": {"type": "string", "nullable": True},
                "confirmed_at": {"type": "string", "format": "date-time", "nullable": True}},
                "additionalProperties": False},
            "Created": {"type": "object", "properties": {"cases": {"type": "array", "items": {
                "type": "object", "properties": {
                    "id": {"type": "integer"}, "url": {"type": "string"},
                    "status": {"type": "string"},
                    "duplicate_of": {"type": "integer", "nullable": True}}}}}},
            "CaseSummary": {"type": "object", "properties": {
                "id": {"type": "integer"}, "url": {"type": "string"},
                "url_defanged": {"type": "string"}, "status": {"type": "string"},
                "country": {"type": "string", "nullable": True}}},
            "Stats": {"type": "object", "properties": {
                "group_by": {"type": "string"},
                "groups": {"type": "array", "items": {"type": "object", "properties": {
                    "group": {"type": "string", "nullable": True},
                    "cases": {"type": "integer"}, "removed": {"type": "integer"},
                    "open": {"type": "integer"},
                    "median_time_to_removal_seconds": {"type": "number", "nullable": True}}}}}},
        },
    },
    "security": [{"bearer": []}],
    "paths": {
        "/api/v1/cases": {
            "post": {
                "summary": "Submit confirmed URLs (analyst)",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Submission"}}}},
                "responses": {"201": _resp("stored (or duplicates of open cases)",
                                           {"$ref": "#/components/schemas/Created"}),
                              **_errors(*_BODY_ERRORS, "422")},
            },
            "get": {
                "summary": "List cases (analyst)",
                "parameters": [
                    {"name": "status", "in": "query",
                     "schema": {"type": "string", "enum": _CASE_STATUSES}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "offset", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}],
                "responses": {"200": _resp("cases", {"type": "object"}), **_errors("400")},
            },
        },
        "/api/v1/cases/{case_id}": {"get": {
            "summary": "A case: facts, route, notices, checks, timeline, clocks",
            "parameters": [_CASE_ID],
            "responses": {"200": _resp("the case", {"type": "object"}), **_errors("404")}}},
        "/api/v1/cases/{case_id}/hold": {"post": {
            "summary": "Law-enforcement hold: no notices, no checks, clock paused",
            "parameters": [_CASE_ID], "requestBody": _NOTE_BODY,
            "responses": {"200": _resp("held", {"$ref": "#/components/schemas/CaseSummary"}),
                          **_errors(*_BODY_ERRORS, "404", "409")}}},
        "/api/v1/cases/{case_id}/release": {"post": {
            "summary": "Release a hold",
            "parameters": [_CASE_ID], "requestBody": _NOTE_BODY,
            "responses": {"200": _resp("released",
                                       {"$ref": "#/components/schemas/CaseSummary"}),
                          **_errors(*_BODY_ERRORS, "404", "409")}}},
        "/api/v1/cases/{case_id}/status": {"post": {
            "summary": "A partner reports status on a case routed to it",
            "parameters": [_CASE_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["status"], "properties": {
                    "status": {"type": "string", "enum": [
                        "acknowledged", "notice_sent", "removed", "moved", "not_illegal",
                        "hold"]},
                    "note": {"type": "string"}}}}}},
            "responses": {"200": _resp("recorded",
                                       {"$ref": "#/components/schemas/CaseSummary"}),
                          **_errors(*_BODY_ERRORS, "404", "409")}}},
        "/api/v1/cases/{case_id}/facts": {"patch": {
            "summary": "Correct hosting facts (analyst); the case is routed again",
            "parameters": [_CASE_ID],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False, "properties": {
                    "hosting": {"type": "object", "properties": {
                        "country": {"type": "string"}, "asn": {"type": "integer"},
                        "as_name": {"type": "string"},
                        "abuse_emails": {"type": "array", "items": {"type": "string"}}}},
                    "registrar": {"type": "object", "properties": {
                        "name": {"type": "string"},
                        "abuse_emails": {"type": "array", "items": {"type": "string"}}}},
                    "cdn": {"type": "object", "nullable": True, "properties": {
                        "name": {"type": "string"},
                        "abuse_emails": {"type": "array", "items": {"type": "string"}}}},
                    "note": {"type": "string"}}}}}},
            "responses": {"200": _resp("changed and re-routed", {"type": "object"}),
                          **_errors(*_BODY_ERRORS, "404")}}},
        "/api/v1/inbox": {"get": {
            "summary": "Cases routed to my hotline (partner)",
            "responses": {"200": _resp("cases", {"type": "object"}), **_ERRORS}}},
        "/api/v1/stats": {"get": {
            "summary": "Removal times (Kaplan-Meier medians; open cases censored)",
            "parameters": [
                {"name": "group_by", "in": "query", "schema": {
                    "type": "string", "enum": ["country", "asn", "partner", "registrar", "cdn"]}},
                {"name": "since", "in": "query", "schema": {"type": "string",
                                                            "format": "date-time"}},
                {"name": "until", "in": "query", "schema": {"type": "string",
                                                            "format": "date-time"}}],
            "responses": {"200": _resp("statistics", {"$ref": "#/components/schemas/Stats"}),
                          **_errors("400")}}},
    },
}
