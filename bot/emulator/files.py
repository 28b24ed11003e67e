"""Files: sendDocument (an upload, or a file_id sent before), getFile, and the download path
`/file/bot<token>/<file_path>` that python-telegram-bot's File.download_* read (answered by
bot/emulator/server.py)."""

from __future__ import annotations

from bot.emulator.answers import ApiError, JSONDict
from bot.emulator.messages import MessageMethods
from bot.emulator.params import Upload

# Telegram's limits: 50 MB sent by a bot, 20 MB downloaded by one.
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
# getFile names a file `documents/<file_id>`; the server answers its download.
PATH_PREFIX = "documents/"


class FileMethods(MessageMethods):
    """The bot's documents and the files it reads back."""

    async def _send_document(self, params: JSONDict) -> JSONDict:
        chat = self._chat_for(params, sending=True)
        document = params.get("document")
        if isinstance(document, Upload):
            data = document.data
            if not data:
                raise ApiError(400, "Bad Request: file must be non-empty")
            if len(data) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            name = str(document.get("file_name") or "document")
            mime = str(document.get("mime_type") or "application/octet-stream")
            stored = self._store_file(data, name, mime)
        elif isinstance(document, str) and document in self._files:
            stored = dict(self._files[document][1])
        else:
            raise ApiError(400, "Bad Request: there is no document in the request")
        caption, entities = self._caption(params)
        markup = self._check_markup(params)
        self._check_limits(chat)
        message = self._new_message(chat, params)
        message["document"] = stored
        if caption:
            message["caption"] = caption
        if entities:
            message["caption_entities"] = entities
        if markup is not None:
            message["reply_markup"] = markup
        self._store_sent(chat, message)
        return message

    async def _get_file(self, params: JSONDict) -> JSONDict:
        file_id = params.get("file_id")
        found = self._files.get(file_id) if isinstance(file_id, str) else None
        if found is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        data, document = found
        if len(data) > MAX_DOWNLOAD_BYTES:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": document["file_id"],
            "file_unique_id": document["file_unique_id"],
            "file_size": len(data),
            "file_path": f"{PATH_PREFIX}{document['file_id']}",
        }
