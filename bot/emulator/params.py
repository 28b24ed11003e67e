"""A Bot API request's parameters, read the way Telegram reads them.

Query strings, urlencoded and multipart forms and JSON bodies all arrive as one dict; the
`opt_*`/`req_*` helpers then coerce a value or answer Telegram's "invalid ..." error.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
import re
import urllib.parse
from typing import Any

from starlette.requests import Request

from bot.emulator.answers import ApiError, JSONDict

# Parameters Telegram documents as String: python-telegram-bot sends them raw, while every other
# value arrives JSON-encoded. Keeping these raw stops "123" or "true" texts from turning into
# numbers and booleans.
_STRING_FIELDS = frozenset(
    {
        "action",
        "address",
        "animation",
        "audio",
        "business_connection_id",
        "callback_query_id",
        "caption",
        "currency",
        "custom_emoji_id",
        "custom_title",
        "description",
        "document",
        "emoji",
        "error_message",
        "explanation",
        "file_id",
        "first_name",
        "foursquare_id",
        "foursquare_type",
        "gift_id",
        "google_place_id",
        "google_place_type",
        "inline_message_id",
        "invite_link",
        "ip_address",
        "language_code",
        "last_name",
        "message_effect_id",
        "name",
        "parse_mode",
        "payload",
        "phone_number",
        "photo",
        "pre_checkout_query_id",
        "provider_token",
        "query",
        "question",
        "secret_token",
        "shipping_query_id",
        "short_description",
        "start_parameter",
        "sticker",
        "sticker_set_name",
        "text",
        "thumbnail",
        "title",
        "url",
        "username",
        "vcard",
        "video",
        "video_note",
        "voice",
        "web_app_query_id",
    }
)


def _decode_value(name: str, raw: str) -> Any:
    if name in _STRING_FIELDS:
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw


class Upload(dict[str, Any]):
    """A file part of a multipart form: its name, size and type as items (what the recorded
    calls show, as JSON), its bytes in `data` (sendDocument keeps them for getFile)."""

    data: bytes = b""


def _parse_multipart(content_type: str, body: bytes) -> JSONDict:
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    params: JSONDict = {}
    if not message.is_multipart():
        return params
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            upload = Upload(
                file_name=filename, file_size=len(data), mime_type=part.get_content_type()
            )
            upload.data = data
            params[name] = upload
        else:
            params[name] = _decode_value(name, data.decode("utf-8", "replace"))
    return params


async def read_params(request: Request) -> JSONDict:
    params: JSONDict = {
        key: _decode_value(key, value) for key, value in request.query_params.multi_items()
    }
    body = await request.body()
    if not body:
        return params
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type == "application/json":
        try:
            decoded = json.loads(body)
        except ValueError:
            raise ApiError(400, "Bad Request: can't parse JSON object") from None
        if isinstance(decoded, dict):
            params.update(decoded)
    elif media_type == "multipart/form-data":
        params.update(_parse_multipart(content_type, body))
    else:
        for key, value in urllib.parse.parse_qsl(
            body.decode("utf-8", "replace"), keep_blank_values=True
        ):
            params[key] = _decode_value(key, value)
    return params


def opt_int(params: JSONDict, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ApiError(400, f"Bad Request: invalid {name} specified")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d+\s*", value):
        return int(value)
    raise ApiError(400, f"Bad Request: invalid {name} specified")


def opt_seconds(params: JSONDict, name: str) -> float:
    # Telegram takes whole seconds; fractions are accepted so tests can poll briefly.
    value = params.get(name)
    if value is None or value == "" or isinstance(value, bool):
        return 0.0
    try:
        return max(float(value), 0.0)
    except (TypeError, ValueError):
        raise ApiError(400, f"Bad Request: invalid {name} specified") from None


def req_int(params: JSONDict, name: str, missing: str | None = None) -> int:
    value = opt_int(params, name)
    if value is None:
        raise ApiError(400, missing or f"Bad Request: {name} is empty")
    return value


def opt_str(params: JSONDict, name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def flag(params: JSONDict, name: str) -> bool:
    value = params.get(name)
    return value is True or (isinstance(value, str) and value.lower() in ("true", "1"))


def loopback_host(host: str) -> bool:
    """The emulator listens on, and posts webhooks to, nothing but this machine."""
    return host in ("localhost", "::1") or host.startswith("127.")
