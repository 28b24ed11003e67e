"""The OpenAPI 3.1 description of the HTTP server, written by hand to match bot/web/api.py."""

from __future__ import annotations

from typing import Any

from bot.intake.validation import (
    MAX_IMAGE_LENGTH,
    MAX_TAGS,
    MAX_TEASER_LENGTH,
    MAX_TITLE_LENGTH,
    MAX_URL_LENGTH,
)

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
            "update": {
                "type": "boolean",
                "default": False,
                "description": "true: a known URL is a correction (its fields replace the "
                "stored ones and its delivered teasers are edited), not a duplicate.",
            },
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
                "description": "ISO 8601 with a time zone; now when absent (publish_at when "
                "that is given). More than a minute ahead, without publish_at: the story is "
                "scheduled for then. At most a year ahead.",
            },
            "publish_at": {
                "type": "string",
                "format": "date-time",
                "description": "When the story goes out, ISO 8601 with a time zone. Ahead of "
                "now (at most a year), the story is held until then, to the second: stored, "
                "but in no list, search or tag count, and sent to nobody, until its time.",
            },
            "source": {"type": "string", "maxLength": 100},
            "image": {
                "type": ["string", "null"],
                "format": "uri",
                "maxLength": MAX_IMAGE_LENGTH,
                "description": "The story's picture, http or https. Telegram fetches it when "
                "the teaser goes out (tagwire never does): a photo with the teaser as its "
                "caption, or a large preview above the text, as each chat chose. A picture "
                "Telegram refuses leaves the text teaser.",
            },
        },
    },
    "StoryResult": {
        "type": "object",
        "required": ["index", "status"],
        "properties": {
            "index": {"type": "integer", "description": "Position in the request, from 0."},
            "status": {
                "type": "string",
                "enum": ["created", "duplicate", "corrected", "rejected"],
                "description": "corrected: a known URL pushed with `update: true` and changed; "
                "its delivered teasers are edited.",
            },
            "id": {"type": "integer", "description": "The story's id (created, duplicate)."},
            "url": {"type": ["string", "null"]},
            "deliveries_queued": {"type": "integer"},
            "publish_at": {
                "type": "string",
                "format": "date-time",
                "description": "A new scheduled story: when it goes out (it is held until then).",
            },
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
            "scheduled": {
                "type": "integer",
                "description": "Of the created, how many are held until their publish_at.",
            },
            "corrected": {
                "type": "integer",
                "description": "Known stories pushed with `update: true` and changed.",
            },
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
            "image": {
                "type": ["string", "null"],
                "description": "The story's picture: an http(s) URL, or for a photo sent to "
                "the bot with /post, Telegram's file_id of it (no `://`).",
            },
        },
    },
    "StoryReport": {
        "type": "object",
        "required": [
            "story",
            "scheduled",
            "chats",
            "sent",
            "pending",
            "held",
            "skipped",
            "failed",
            "failures",
            "queued_at",
            "first_sent_at",
            "last_sent_at",
            "half_after_seconds",
            "all_after_seconds",
        ],
        "properties": {
            "story": _ref("Story"),
            "scheduled": {
                "type": ["object", "null"],
                "description": "Set when the story was scheduled; null otherwise.",
                "required": ["state", "publish_at", "released_at", "cancelled_at"],
                "properties": {
                    "state": {"type": "string", "enum": ["held", "released", "cancelled"]},
                    "publish_at": {"type": "string", "format": "date-time"},
                    "released_at": {"type": ["string", "null"], "format": "date-time"},
                    "cancelled_at": {"type": ["string", "null"], "format": "date-time"},
                },
            },
            "chats": {
                "type": "integer",
                "description": "Chats (forum topics apiece) it was queued for.",
            },
            "sent": {"type": "integer"},
            "pending": {"type": "integer"},
            "held": {
                "type": "integer",
                "description": "Of the pending: waiting for quiet hours to end or a digest.",
            },
            "skipped": {
                "type": "object",
                "required": ["muted", "inactive"],
                "properties": {
                    "muted": {"type": "integer", "description": "For a word the chat muted."},
                    "inactive": {
                        "type": "integer",
                        "description": "The chat blocked the bot, left or was deleted.",
                    },
                },
            },
            "failed": {"type": "integer"},
            "failures": {
                "type": "array",
                "description": "The ten most frequent reasons of the failed, most first.",
                "items": {
                    "type": "object",
                    "required": ["reason", "count"],
                    "properties": {
                        "reason": {"type": "string"},
                        "count": {"type": "integer"},
                    },
                },
            },
            "queued_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "The fan-out (a scheduled story's release).",
            },
            "first_sent_at": {"type": ["string", "null"], "format": "date-time"},
            "last_sent_at": {"type": ["string", "null"], "format": "date-time"},
            "half_after_seconds": {
                "type": ["number", "null"],
                "description": "From the fan-out until half of its chats had it; null until.",
            },
            "all_after_seconds": {
                "type": ["number", "null"],
                "description": "From the fan-out until every chat had it; null until then "
                "(and for good when one was skipped or failed).",
            },
            "edits": {
                "oneOf": [{"type": "null"}, _ref("StoryEdits")],
                "description": "Its corrections and retraction; null when it had neither.",
            },
        },
    },
    "StoryEdits": {
        "type": "object",
        "required": ["corrections", "edited", "unchanged", "edits_pending", "retracted_at"],
        "properties": {
            "corrections": {"type": "integer"},
            "edited": {"type": "integer", "description": "Teasers edited in place."},
            "unchanged": {
                "type": "integer",
                "description": "Teasers that already read so (Telegram: not modified).",
            },
            "edits_pending": {"type": "integer"},
            "retracted_at": {"type": ["string", "null"], "format": "date-time"},
            "cancelled": {
                "type": "integer",
                "description": "Deliveries the retraction cancelled before they went out.",
            },
            "deleted": {"type": "integer"},
            "noted": {
                "type": "integer",
                "description": "Teasers older than 48 hours, edited into the withdrawn note.",
            },
            "deletes_pending": {"type": "integer"},
            "skipped": {
                "type": "integer",
                "description": "Never sent, or inside a digest: not edited.",
            },
            "failed": {"type": "integer"},
            "failures": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["reason", "count"],
                    "properties": {"reason": {"type": "string"}, "count": {"type": "integer"}},
                },
            },
        },
    },
    "StoryChanges": {
        "type": "object",
        "minProperties": 1,
        "additionalProperties": False,
        "description": "The fields to correct; those left out stay as they are.",
        "properties": {
            "title": {"type": "string", "maxLength": 300},
            "teaser": {"type": "string", "maxLength": 2000},
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "image": {
                "type": ["string", "null"],
                "description": "A new picture (http or https); an empty string or null "
                "removes it. An "
                "already sent photo keeps its picture: its caption is edited.",
            },
            "source": {"type": ["string", "null"]},
        },
    },
    "Correction": {
        "type": "object",
        "required": ["story", "changed", "edits_queued"],
        "properties": {
            "story": _ref("Story"),
            "changed": {"type": "boolean"},
            "edits_queued": {
                "type": "integer",
                "description": "Delivered teasers queued to be edited in place.",
            },
        },
    },
    "Retraction": {
        "type": "object",
        "required": ["id", "url", "retracted_at", "deliveries_cancelled", "deletes_queued"],
        "properties": {
            "id": {"type": "integer"},
            "url": {"type": "string", "format": "uri"},
            "retracted_at": {"type": "string", "format": "date-time"},
            "deliveries_cancelled": {"type": "integer"},
            "deletes_queued": {
                "type": "integer",
                "description": "Delivered teasers queued to be deleted (older than 48 hours: "
                "edited into a short withdrawn note).",
            },
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
                "story's tags are notified at once (a scheduled one's at its publish_at). The "
                "body is at most 1 MiB.",
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
        "/api/articles/{id}": {
            "parameters": [
                {
                    "name": "id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "integer", "minimum": 1},
                    "description": "The story's id, as POST /api/articles answered it.",
                }
            ],
            "get": {
                "summary": "One story",
                "security": [{"bearerAuth": []}],
                "responses": {
                    "200": _json_body(_ref("Story"), "The story."),
                    "400": _error("The id is not a whole number."),
                    "404": _error("No story has this id, or the API is off."),
                    "410": _error("The story was retracted."),
                    **_AUTH_ERRORS,
                },
            },
            "patch": {
                "summary": "Correct a story",
                "description": "Stores the new version and edits every teaser already "
                "delivered for it in place (editMessageText, or editMessageCaption for a "
                "photo), at the bot's limits; a teaser still pending goes out with the new "
                "text. Stories inside digests are not edited.",
                "security": [{"bearerAuth": []}],
                "requestBody": {
                    "required": True,
                    "content": {_JSON: {"schema": _ref("StoryChanges")}},
                },
                "responses": {
                    "200": _json_body(_ref("Correction"), "Stored; edits queued."),
                    "400": _error("Not a JSON object, or a field is wrong (`field` names it)."),
                    "404": _error("No story has this id, or the API is off."),
                    "410": _error("The story was retracted: it cannot be corrected."),
                    "413": _error("The body is larger than 1 MiB."),
                    **_AUTH_ERRORS,
                },
            },
            "delete": {
                "summary": "Retract a story",
                "description": "Irreversible: the story leaves the lists, searches and tag "
                "counts; its pending deliveries are cancelled (one already in flight finishes "
                "and is then deleted); its delivered teasers are deleted, or past Telegram's "
                "48 hours edited into a short withdrawn note. Afterwards the story answers "
                "410.",
                "security": [{"bearerAuth": []}],
                "responses": {
                    "200": _json_body(_ref("Retraction"), "Retracted."),
                    "400": _error("The id is not a whole number."),
                    "404": _error("No story has this id, or the API is off."),
                    "410": _error("The story was retracted already."),
                    **_AUTH_ERRORS,
                },
            },
        },
        "/api/articles/{id}/report": {
            "get": {
                "summary": "What became of a story's deliveries",
                "description": "How many chats it was for; sent, pending, skipped and failed "
                "(by reason); the first and last send; how long it took to reach half and all "
                "of its chats. A scheduled story's report says when it goes out. Finished "
                "deliveries are pruned after 7 days, and their figures with them.",
                "security": [{"bearerAuth": []}],
                "parameters": [
                    {
                        "name": "id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1},
                        "description": "The story's id, as POST /api/articles answered it.",
                    }
                ],
                "responses": {
                    "200": _json_body(_ref("StoryReport"), "The report."),
                    "400": _error("The id is not a whole number."),
                    "401": _AUTH_ERRORS["401"],
                    "403": _AUTH_ERRORS["403"],
                    "404": _error("No story has this id, or the API is off."),
                    "429": _AUTH_ERRORS["429"],
                },
            }
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
