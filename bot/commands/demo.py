"""/demo: run a small model live and post its picture."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import messages
from bot.commands import registry
from bot.core import Image, Reply, UserError
from bot.router import Context
from lessons.course import DEMO_NAMES
from lessons.demos import Demo, DemoResult, available

if TYPE_CHECKING:
    from bot.services import Services


@registry.command("demo", usage="NAME [ARGS]", expensive=True)
async def demo_command(ctx: Context) -> Reply:
    """Train or run a small model live and show the picture it draws.

    Args:
        name: The demo to run; /demo alone lists them.
        args: The demo's own arguments, such as /demo xor 4 1000 0 for hidden units, steps and seed.
    """
    if not ctx.services.settings.demos_enabled:
        raise UserError(messages.DEMOS_OFF)
    demos = available()
    name, _, args = ctx.command.args.strip().partition(" ")
    if not name:
        lines = ["**Demos**", ""]
        lines += [f"- `/demo {demo.name} {demo.usage}`: {demo.description}" for demo in demos.values()]
        coming = [n for n in DEMO_NAMES if n not in demos]
        if coming:
            lines += ["", "Not shipped yet: " + ", ".join(coming) + "."]
        return Reply("\n".join(lines))

    demo = demos.get(name.lower())
    if demo is None:
        known = name.lower() in DEMO_NAMES
        template = messages.DEMO_NOT_SHIPPED if known else messages.DEMO_UNKNOWN
        raise UserError(template.format(name=name, names=", ".join(demos)))
    try:
        options = demo.parse(args)
    except ValueError as error:
        raise UserError(f"/demo {demo.name}: {error}") from None

    limit = ctx.services.settings.demo_time_limit_seconds
    services = service_options(demo, ctx.services)
    result = await ctx.run_model(lambda: demo.run(**options, **services, time_limit=limit))
    return demo_reply(demo.name, result)


def service_options(demo: Demo, services: Services) -> dict:
    """Return the bot's services a demo's `run` takes as keyword arguments."""
    return {"answerer": services.answerer} if demo.needs_knowledge else {}


def demo_reply(name: str, result: DemoResult) -> Reply:
    return Reply(result.text, images=[Image(result.png, f"{name}.png", result.command)])
