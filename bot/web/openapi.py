"""The OpenAPI 3.1 description of the HTTP server, written by hand to match bot/web/api.py."""

from __future__ import annotations

from typing import Any

from bot.intake.validation import MAX_TAGS, MAX_TEASER_LENGTH, MAX_TITLE_LENGTH, MAX_URL_LENGTH

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json_body(_ref("Error"), description)


_AUTH_ERRORS = {
    "401": _error("No `Authorization: Bearer <token>` header."),
    "403": _error("The token is wrong."),
    "404": _error("The API is off (TAGWIRE_INGEST_TOKEN is not set)."),
    "429": _error(
        "Too many requests from this address, or with this token "
        "(TAGWIRE_API_REQUESTS_PER_MINUTE); `Retry-After` says when to try again."
    ),
}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {"type": "string", "description": "What is wrong, in one sentence."},
            "suggestions": {
                "type": "array",
                "items": {"type": "string"},
                "description": "For an unknown tag: known tags it may have meant.",
            },
        },
    },
    "StoryIn": {
        "type": "object",
        "required": ["url", "title", "tags"],
        "properties": {
            "url": {
                "type": "string",
                "format": "uri",
                "maxLength": MAX_URL_LENGTH,
                "description": "http or https; the story's identity: a known URL is a "
                "duplicate and notifies nobody.",
            },
            "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_LENGTH},
            "teaser": {
                "type": "string",
                "description": f"Plain text (HTML is stripped), cut to {MAX_TEASER_LENGTH} "
                "characters.",
            },
            "tags": {
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_TAGS,
                "items": {"type": "string", "minLength": 1, "maxLength": 64},
            },
            "published_at": {
                "type": "string",
                "format": "date-time",
                "description": "ISO 8601 with a time zone; now when absent.",
            },
            "source": {"type": "string", "maxLength": 100},
        },
    },
    "StoryResult": {
        "type": "object",
        "required": ["index", "status"],
        "properties": {
            "index": {"type": "integer", "description": "Position in the request, from 0."},
            "status": {"type": "string", "enum": ["created", "duplicate", "rejected"]},
            "id": {"type": "integer", "description": "The story's id (created, duplicate)."},
            "url": {"type": ["string", "null"]},
            "deliveries_queued": {"type": "integer"},
            "field": {"type": "string", "description": "The rejected field, e.g. tags.0."},
            "reason": {"type": "string", "description": "Why it was rejected."},
        },
    },
    "IngestAnswer": {
        "type": "object",
        "required": ["created", "duplicates", "rejected", "deliveries_queued", "results"],
        "properties": {
            "created": {"type": "integer"},
            "duplicates": {"type": "integer"},
            "rejected": {"type": "integer"},
            "deliveries_queued": {"type": "integer"},
            "results": {"type": "array", "items": _ref("StoryResult")},
        },
    },
    "Story": {
        "type": "object",
        "required": ["id", "url", "title", "teaser", "tags", "published_at"],
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string", "format": "uri"},
            "title": {"type": "string"},
            "teaser": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "source": {"type": ["string", "null"]},
            "published_at": {"type": "string", "format": "date-time"},
        },
    },
    "Tag": {
        "type": "object",
        "required": ["name", "story_count", "follower_count"],
        "properties": {
            "name": {"type": "string"},
            "story_count": {"type": "integer"},
            "follower_count": {"type": "integer"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "database", "bot", "mode"],
        "properties": {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "database": {"type": "string", "enum": ["ok", "unavailable"]},
            "bot": {"type": "string", "enum": ["running", "stopped"]},
            "mode": {"type": "string", "enum": ["polling", "webhook"]},
            "instance": {"type": "string", "description": "TAGWIRE_INSTANCE_NAME"},
            "role": {
                "type": "string",
                "enum": ["leader", "follower"],
                "description": "The leader sends; followers answer updates and the API.",
            },
        },
    },
}


def openapi_document(webhook_path: str | None = None) -> dict[str, Any]:
    """The description of every route the server has; the webhook path only in webhook mode."""
    paths: dict[str, Any] = {
        "/api/articles": {
            "post": {
                "summary": "Add one story or several",
                "description": "Each story is validated on its own: a bad one is reported "
                "with its field and reason and the others are stored. Followers of a new "
                "story's tags are notified at once. The body is at most 1 MiB.",
                "security": [{"bearerAuth": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "oneOf": [
                                    _ref("StoryIn"),
                                    {"type": "array", "items": _ref("StoryIn")},
                                ]
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json_body(_ref("IngestAnswer"), "At least one story was new."),
                    "200": _json_body(
                        _ref("IngestAnswer"), "Nothing was new: duplicates or rejections."
                    ),
                    "400": _error("The body is empty, not UTF-8, or not JSON."),
                    "413": _error("The body is larger than 1 MiB."),
                    "503": _error(
                        "The database cannot take the stories just now (disk full, or locked "
                        "past its timeout): nothing of the request was stored. `Retry-After`."
                    ),
                    **_AUTH_ERRORS,
                },
            },
            "get": {
                "summary": "The newest stories of a tag",
                "security": [{"bearerAuth": []}],
                "parameters": [
                    {
                        "name": "tag",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string"},
                        "description": "Any spelling: japan, Japan and #Japan are one tag.",
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
                    },
                ],
                "responses": {
                    "200": _json_body(
                        {
                            "type": "object",
                            "required": ["tag", "articles"],
                            "properties": {
                                "tag": _ref("Tag"),
                                "articles": {"type": "array", "items": _ref("Story")},
                            },
                        },
                        "Newest first.",
                    ),
                    "400": _error("No tag, a tag that cannot be one, or a bad limit."),
                    "401": _AUTH_ERRORS["401"],
                    "403": _AUTH_ERRORS["403"],
                    "404": _error("No such tag (with suggestions), or the API is off."),
                    "429": _AUTH_ERRORS["429"],
                },
            },
        },
        "/api/tags": {
            "get": {
                "summary": "Tags with their story and follower counts, most stories first",
                "security": [{"bearerAuth": []}],
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": 10000,
                            "default": 1000,
                        },
                    }
                ],
                "responses": {
                    "200": _json_body(
                        {
                            "type": "object",
                            "required": ["tags"],
                            "properties": {"tags": {"type": "array", "items": _ref("Tag")}},
                        },
                        "The tags.",
                    ),
                    "400": _error("A bad limit."),
                    **_AUTH_ERRORS,
                },
            }
        },
        "/healthz": {
            "get": {
                "summary": "Whether the database answers and the bot is running",
                "security": [],
                "responses": {
                    "200": _json_body(_ref("Health"), "Healthy."),
                    "503": _json_body(_ref("Health"), "The database or the bot is down."),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text exposition format)",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Counters of this process and outbox gauges.",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    }
                },
            }
        },
        "/openapi.json": {
            "get": {
                "summary": "This description",
                "security": [],
                "responses": {
                    "200": _json_body({"type": "object"}, "The OpenAPI document."),
                },
            }
        },
    }
    if webhook_path is not None:
        paths[webhook_path] = {
            "post": {
                "summary": "Telegram posts updates here (webhook mode)",
                "security": [{"telegramSecret": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        _JSON: {
                            "schema": {
                                "type": "object",
                                "description": "A Telegram Update.",
                                "required": ["update_id"],
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "Queued for the bot."},
                    "400": _error("The body is not an update."),
                    "403": _error("The secret token header is missing or wrong."),
                    "413": _error("The body is larger than 1 MiB."),
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tagwire",
            "version": "0.1.0",
            "description": "Push stories to a tagwire bot and watch it. /api routes need "
            "`Authorization: Bearer <TAGWIRE_INGEST_TOKEN>`.",
        },
        "paths": paths,
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer"},
                "telegramSecret": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Telegram-Bot-Api-Secret-Token",
                },
            },
        },
    }
