"""The OpenAPI description served at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from nttd.stats import GROUPS

_ERROR = {"$ref": "#/components/schemas/Error"}
_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_CASE_STATUSES = ["received", "resolving", "resolved", "routed", "notified", "monitoring",
                  "removed", "closed", "hold", "unresolvable", "reappeared"]


_STATS_GROUPS = GROUPS
_ESTIMATE = {"$ref": "#/components/schemas/Estimate"}
_SUMMARY = {"$ref": "#/components/schemas/Summary"}
_STATS_DESCRIPTION = (
    "Kaplan-Meier estimates of removal times per group, with 95% confidence intervals; "
    "cases still online are censored, never dropped. Time to removal = removed_at - "
    "confirmed_at - time on hold; notice to removal = removed_at - first_notice_at - time "
    "on hold; time to acknowledgement = the recipient's first acknowledgement - "
    "first_notice_at. Durations are counted in started minutes; times are in seconds. A "
    "group with fewer cases than NTTD_STATS_MIN_GROUP says too_few and shows no estimates. "
    "Every answer carries these definitions in full (`definitions`).")


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
                "country": {"type": "string", "nullable": True},
                "flagged": {"type": "boolean"},
                "flag_reason": {"type": "string", "nullable": True}}},
            "Estimate": {"type": "object", "nullable": True, "properties": {
                "estimate": {"type": "number", "nullable": True},
                "lower": {"type": "number", "nullable": True},
                "upper": {"type": "number", "nullable": True}}},
            "Summary": {"type": "object", "properties": {
                "n": {"type": "integer"}, "events": {"type": "integer"},
                "censored": {"type": "integer"}, "too_few": {"type": "boolean"},
                "min_cases": {"type": "integer"}, "confidence": {"type": "number"},
                **{name: _ESTIMATE for name in (
                    "median", "p75", "p90", "removed_by_24h", "removed_by_72h",
                    "removed_by_7d")}}},
            "StatsGroup": {"type": "object", "properties": {
                "group": {"type": "string", "nullable": True},
                "name": {"type": "string", "nullable": True,
                         "description": "the network's name (group_by=asn)"},
                "cases": {"type": "integer"}, "removed": {"type": "integer"},
                "open": {"type": "integer"}, "too_few": {"type": "boolean"},
                "reappeared": {"type": "integer"}, "reappeared_cases": {"type": "integer"},
                "reappearance_rate": _ESTIMATE,
                "median_time_to_removal_seconds": {"type": "number", "nullable": True},
                "p90_time_to_removal_seconds": {"type": "number", "nullable": True},
                "median_notice_to_removal_seconds": {"type": "number", "nullable": True},
                "time_to_removal": _SUMMARY, "notice_to_removal": _SUMMARY,
                "time_to_acknowledgement": _SUMMARY}},
            "Stats": {"type": "object", "properties": {
                "group_by": {"type": "string", "enum": list(_STATS_GROUPS)},
                "since": {"type": "string", "nullable": True},
                "until": {"type": "string", "nullable": True},
                "filters": {"type": "object", "additionalProperties": {"type": "string"}},
                "definitions": {"type": "object",
                                "additionalProperties": {"type": "string"}},
                "min_group": {"type": "integer"},
                "metrics": {"type": "array", "items": {"type": "string"}},
                "overall": {"$ref": "#/components/schemas/StatsGroup"},
                "groups": {"type": "array",
                           "items": {"$ref": "#/components/schemas/StatsGroup"}},
                "league": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {
                        "fastest": {"type": "array", "items": {"type": "object"}},
                        "slowest": {"type": "array", "items": {"type": "object"}}}}}}},
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
                "summary": "List cases (analyst; a coordinator: the cases flagged for it)",
                "parameters": [
                    {"name": "status", "in": "query",
                     "schema": {"type": "string", "enum": _CASE_STATUSES}},
                    {"name": "flagged", "in": "query",
                     "description": "1: only cases flagged for the coordinator; 0: only others",
                     "schema": {"type": "string", "enum": ["1", "0"]}},
                    {"name": "limit", "in": "query",
                     "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
                    {"name": "offset", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}}],
                "responses": {"200": _resp("cases", {"type": "object"}), **_errors("400")},
            },
        },
        "/api/v1/cases/{case_id}": {"get": {
            "summary": "A case: facts, route, notices, checks, timeline, clocks",
            "description": (
                "Each of `notices[]` (analysts; a partner sees none) says where its delivery "
                "stands: `status` (queued, sending, sent, bounced, failed, cancelled), "
                "`attempts`, `last_error`, `next_attempt_at` (while one is coming), "
                "`first_failure_at` (the recipient's first own failure: the give-up clock), "
                "`envelope_from` (the VERP address bounces come back to) and `sent_at`."),
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
            "description": "With an Idempotency-Key, a report repeated with the same key by "
                           "the same user is answered as before and recorded once (another "
                           "nttd instance sends one per status report).",
            "parameters": [_CASE_ID, {
                "name": "Idempotency-Key", "in": "header", "required": False,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255}}],
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
        "/api/v1/bounces": {"post": {
            "summary": "A delivery status notification (bounce) about a notice (admin)",
            "description": (
                "The raw message (RFC 3464 multipart/report; report-type=delivery-status) as "
                "the mail server received it. The notice is found from its VERP envelope "
                "sender (Delivered-To/X-Original-To/To/Return-Path) or the Message-ID of the "
                "returned headers. A permanent failure (Action: failed, Status 5.x.x) marks the "
                "contact bad and sends the notice's cases to the next contact; delayed / 4.x.x "
                "is recorded only."),
            "requestBody": {"required": True, "content": {
                "message/rfc822": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}}}},
            "responses": {
                "200": _resp("what was done", {"type": "object", "properties": {
                    "notice_id": {"type": "integer"},
                    "outcome": {"type": "string",
                                "enum": ["permanent", "delayed", "duplicate", "other"]},
                    "found_by": {"type": "string", "enum": ["verp", "message_id"]},
                    "address": {"type": "string"},
                    "recipients": {"type": "array", "items": {"type": "object"}}}}),
                "400": _resp("an empty body; nothing changed", _ERROR),
                "413": _resp(_WHY["413"], _ERROR),
                "415": _resp("the body is not message/rfc822 or text/plain", _ERROR),
                "422": _resp("not a delivery status notification, names no notice of ours, "
                             "or a forged VERP address (`reason`); nothing changed", _ERROR),
                **_ERRORS}}},
        "/api/v1/exchange": {"post": {
            "summary": "Another nttd instance sends cases (its signed partner webhook)",
            "description": "No token: the body must be signed with the webhook_secret of a "
                           "partner in our directory (X-NTTD-Signature: sha256=<hex "
                           "HMAC-SHA256 of the raw body>); X-NTTD-Sender may name it by its "
                           "code. The body is an nttd-notice/1 payload (at most 1 MiB and "
                           "500 reports); each report becomes a case through the same intake "
                           "as POST /api/v1/cases, keeping the sender's reference. A report "
                           "already received from that sender (a retried webhook) creates "
                           "nothing and is answered with the same case.",
            "security": [],
            "parameters": [
                {"name": "X-NTTD-Signature", "in": "header", "required": True,
                 "schema": {"type": "string"}},
                {"name": "X-NTTD-Sender", "in": "header", "required": False,
                 "schema": {"type": "string"}},
                {"name": "Idempotency-Key", "in": "header", "required": False,
                 "schema": {"type": "string"}}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["format", "reports"], "properties": {
                    "format": {"type": "string", "enum": ["nttd-notice/1"]},
                    "reports": {"type": "array", "minItems": 1, "maxItems": 500,
                                "items": {"type": "object", "required": ["reference", "url"],
                                          "properties": {
                                              "reference": {"type": "string"},
                                              "url": {"type": "string"},
                                              "classification": {"type": "string"},
                                              "content_type": {"type": "string"},
                                              "confirmed_at": {"type": "string",
                                                               "format": "date-time"}}}}}}}}},
            "responses": {
                "202": _resp("accepted: our case for each of the sender's references", {
                    "type": "object", "required": ["cases"], "properties": {"cases": {
                        "type": "array", "items": {"type": "object", "properties": {
                            "reference": {"type": "string"}, "id": {"type": "integer"}}}}}}),
                "400": _resp("not an nttd-notice/1 payload; nothing stored", _ERROR),
                "401": _resp("no signature", _ERROR),
                "403": _resp("unknown sender, or a signature that does not verify", _ERROR),
                "413": _resp(_WHY["413"], _ERROR),
                "422": _resp("reports our intake refuses (one problem each); nothing stored",
                             _ERROR)}}},
        "/api/v1/inbox": {"get": {
            "summary": "Cases routed to my hotline (partner)",
            "responses": {"200": _resp("cases", {"type": "object"}), **_ERRORS}}},
        "/api/v1/stats": {"get": {
            "summary": "Removal-time statistics per group (coordinator, analyst)",
            "description": _STATS_DESCRIPTION,
            "parameters": [
                {"name": "group_by", "in": "query",
                 "description": "what a group is; step: the last letter of the chase sent "
                                "while the case was online (notice, reminder-<n>, "
                                "escalation-<party>, (none)), for a removed case the one "
                                "after which the content came down",
                 "schema": {"type": "string", "enum": list(_STATS_GROUPS)}},
                {"name": "since", "in": "query",
                 "description": "cases confirmed at or after this time",
                 "schema": {"type": "string", "format": "date-time"}},
                {"name": "until", "in": "query", "description": "cases confirmed before this time",
                 "schema": {"type": "string", "format": "date-time"}},
                {"name": "country", "in": "query", "description": "hosting country (ISO 3166)",
                 "schema": {"type": "string", "pattern": "^[A-Za-z]{2}$"}},
                {"name": "partner", "in": "query", "description": "partner hotline code",
                 "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
                {"name": "route", "in": "query",
                 "schema": {"type": "string", "enum": ["partner", "direct"]}},
                {"name": "classification", "in": "query",
                 "schema": {"type": "string", "minLength": 1, "maxLength": 200}},
                {"name": "metrics", "in": "query",
                 "description": "comma list of time_to_removal, notice_to_removal, "
                                "time_to_acknowledgement (default: all three)",
                 "schema": {"type": "string", "enum": [
                     "time_to_removal", "notice_to_removal", "time_to_acknowledgement",
                     "time_to_removal,notice_to_removal",
                     "time_to_removal,notice_to_removal,time_to_acknowledgement"]}},
                {"name": "league", "in": "query",
                 "description": "add the slowest and fastest networks and registrars",
                 "schema": {"type": "string", "enum": ["true", "false"]}},
                {"name": "format", "in": "query",
                 "description": "csv: one row per group (also with Accept: text/csv)",
                 "schema": {"type": "string", "enum": ["json", "csv"]}}],
            "responses": {"200": {
                "description": "statistics",
                "content": {"application/json": {"schema": {
                                "$ref": "#/components/schemas/Stats"}},
                            "text/csv": {"schema": {"type": "string"}}}},
                          **_errors("400")}}},
    },
}
