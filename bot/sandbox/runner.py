"""Running the sandbox: the Bot API emulator, the real bot and the page, in one event loop."""

from __future__ import annotations

import asyncio
import io
import signal
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import IO

from pydantic import SecretStr

from bot.app import build_application, serve
from bot.context import TagwireApplication
from bot.emulator import BotApiEmulator
from bot.intake.ingest import Ingestor, IngestReport, read_records
from bot.logs import configure_logging
from bot.sandbox.cast import Cast, default_cast
from bot.sandbox.feed import Feed
from bot.sandbox.server import create_app
from bot.settings import Settings
from bot.web.server import LocalServer
from storage import open_store

# Well-formed, so the bot starts exactly as with a real one; only the emulator ever sees it.
SANDBOX_TOKEN = "7000000001:sandbox-token-not-a-real-telegram-token"  # noqa: S105 - a dummy
SANDBOX_BOT_USERNAME = "tagwire_sandbox_bot"
DEFAULT_PORT = 8088
LOOPBACK = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


# A webhook and the operators' HTTP API would listen or be reached outside the sandbox, whatever
# the environment or .env configures for the real bot.
_SWITCHED_OFF = ("webhook_url", "webhook_secret", "ingest_token")


def example_stories() -> Path:
    """examples/japan.jsonl of the checkout this package runs from."""
    return Path(__file__).resolve().parents[2] / "examples" / "japan.jsonl"


class SandboxError(Exception):
    """The sandbox cannot start; the message is one line for the person who ran it."""


class Sandbox:
    """`async with Sandbox(settings) as sandbox:` serves the page at `sandbox.url`.

    `settings` supply everything but the token, the Bot API URL and the database, which the
    sandbox sets: a dummy token, its own emulator, and `database` or a temporary file.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        port: int = DEFAULT_PORT,
        database: Path | None = None,
        stories: Path | None = None,
        cast: Cast | None = None,
    ) -> None:
        self._settings = settings
        self._port = port
        self._database = database
        self._stories = stories
        self.cast = cast or default_cast()
        self.emulator = BotApiEmulator(
            token=SANDBOX_TOKEN, bot_username=SANDBOX_BOT_USERNAME, bot_first_name="Tagwire"
        )
        self.feed = Feed(self.emulator, self.cast)
        self.preloaded: IngestReport | None = None
        self.database: Path | None = None
        self._application: TagwireApplication | None = None
        self._page: LocalServer | None = None
        self._temporary: tempfile.TemporaryDirectory[str] | None = None
        self._bot_stop = asyncio.Event()
        self._bot_task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        if self._page is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._page.url

    @property
    def database_is_temporary(self) -> bool:
        return self._database is None

    @property
    def application(self) -> TagwireApplication:
        if self._application is None:
            raise RuntimeError("the sandbox is not running; call start() first")
        return self._application

    async def __aenter__(self) -> Sandbox:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        await self.emulator.start(LOOPBACK)
        self.cast.install(self.emulator)
        # Before the bot starts, so the page sees its setMyCommands and every call after it.
        self.feed.attach()
        page = LocalServer(create_app(self.emulator, self.cast, self.feed, self._ingestor))
        try:
            await page.start(LOOPBACK, self._port)
        except OSError as exc:
            raise SandboxError(
                f"cannot serve the page on {LOOPBACK}:{self._port} ({exc.strerror or exc}); "
                "pick another port with --port"
            ) from None
        self._page = page

        if self._database is None:
            self._temporary = tempfile.TemporaryDirectory(prefix="tagwire-sandbox-")
            self.database = Path(self._temporary.name) / "sandbox.db"
        else:
            self.database = self._database
        if self._stories is not None:
            self.preloaded = await _preload(self.database, self._stories)

        settings = self._settings.model_copy(
            update={
                "bot_token": SecretStr(SANDBOX_TOKEN),
                "telegram_api_url": self.emulator.base_url,
                "database": str(self.database),
                **{name: None for name in _SWITCHED_OFF if name in Settings.model_fields},
            }
        )
        application = build_application(settings)
        self._application = application
        self._bot_task = asyncio.create_task(serve(application, self._bot_stop))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        while not application.running:
            if self._bot_task.done():
                self._bot_task.result()
                raise SandboxError("the bot stopped while starting")
            if loop.time() > deadline:
                raise SandboxError(f"the bot did not start within {START_TIMEOUT:g} s")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Ends the pages' streams, then stops the page, the bot and the emulator, in order."""
        self.feed.close()
        try:
            if self._page is not None:
                await self._page.stop()
                self._page = None
            task, self._bot_task = self._bot_task, None
            if task is not None:
                self._bot_stop.set()
                await asyncio.wait_for(task, STOP_TIMEOUT)
        finally:
            self.feed.detach()
            await self.emulator.stop()
            if self._temporary is not None:
                self._temporary.cleanup()
                self._temporary = None

    def _ingestor(self) -> Ingestor | None:
        application = self._application
        if application is None or not application.running:
            return None
        services = application.bot_data.services
        return services.ingestor if services is not None else None


async def _preload(database: Path, stories: Path) -> IngestReport:
    """The stories, stored as `tagwire push --no-notify` stores them."""
    try:
        text = await asyncio.to_thread(stories.read_text, encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SandboxError(f"cannot read the stories in {stories}: {exc}") from None
    store = await open_store(database)
    try:
        return await Ingestor(store).ingest(read_records(io.StringIO(text)), notify=False)
    finally:
        await store.close()


def run_sandbox(
    settings: Settings,
    *,
    port: int = DEFAULT_PORT,
    database: Path | None = None,
    stories: Path | None = None,
    out: IO[str] | None = None,
) -> None:
    """`tagwire sandbox`: runs until SIGINT or SIGTERM; raises SandboxError when it cannot."""
    output = out or sys.stdout
    configure_logging(settings.log_level, secrets=[SANDBOX_TOKEN])

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        async with Sandbox(settings, port=port, database=database, stories=stories) as sandbox:
            print(_banner(sandbox, stories), file=output, flush=True)
            await stop.wait()
            print("tagwire sandbox: stopping…", file=output, flush=True)
        print("tagwire sandbox: stopped", file=output, flush=True)

    asyncio.run(main())


def _banner(sandbox: Sandbox, stories: Path | None) -> str:
    database = (
        f"{sandbox.database} (temporary)" if sandbox.database_is_temporary else sandbox.database
    )
    loaded = sandbox.preloaded
    if stories is None or loaded is None:
        story_line = "no example stories loaded"
    else:
        story_line = (
            f"{loaded.created} stories loaded from {stories} "
            f"({loaded.duplicates} known already, {loaded.rejected} rejected)"
        )
    return "\n".join(
        [
            f"tagwire sandbox: open {sandbox.url} in your browser",
            f"  Bot API emulator {sandbox.emulator.url} (no token, no network)",
            f"  database {database}",
            f"  {story_line}",
            "  Ctrl-C stops it",
        ]
    )
