"""Platform-neutral command handlers. Each module registers its commands on `registry`."""

from bot.registry import Registry

registry = Registry()

# Imported for their registrations.
from bot.commands import ask, demo, docs, help, lesson  # noqa: E402,F401
