"""`tagwire sandbox`: the real bot against the Bot API emulator, with a chat page in the browser.

No token and no network: the emulator (bot/emulator/) plays Telegram, the page plays the
readers and the operator. `Sandbox` runs it all inside one event loop; `run_sandbox` is the
command.
"""

from bot.sandbox.runner import DEFAULT_PORT, SANDBOX_TOKEN, Sandbox, run_sandbox

__all__ = ["DEFAULT_PORT", "SANDBOX_TOKEN", "Sandbox", "run_sandbox"]
