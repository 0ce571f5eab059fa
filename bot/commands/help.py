from bot.commands import registry
from bot.core import Reply
from bot.router import Context


@registry.command("help")
async def help_command(ctx: Context) -> Reply:
    """List the commands with what each one does."""
    lines = ["**Commands**", ""]
    for spec in ctx.router.registry:
        if spec.hidden:
            continue
        usage = f" {spec.usage}" if spec.usage else ""
        admin = " (admins)" if spec.admin_only else ""
        lines.append(f"- `/{spec.name}{usage}`: {spec.description}{admin}")
    return Reply("\n".join(lines))
