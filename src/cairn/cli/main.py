"""`cairn`: the entry point. Turns Cairn's errors into their exit codes (DESIGN.md)."""

from __future__ import annotations

import importlib
import sys

import click

from cairn import __version__
from cairn.core.errors import EXIT_INTERRUPTED, CairnError

# Commands are imported only when used, so a backup does not pay for importing restore (start-up
# time is most of a no-change backup).
COMMANDS = {
    "vault": "cairn.cli.vault_cmd:vault",
    "register": "cairn.cli.vault_cmd:register",
    "backup": "cairn.cli.backup_cmd:backup",
    "recovery-points": "cairn.cli.points_cmd:recovery_points",
    "ls": "cairn.cli.restore_cmd:ls",
    "restore": "cairn.cli.restore_cmd:restore",
    "check": "cairn.cli.check_cmd:check",
    "policy": "cairn.cli.policy_cmd:policy",
    "prune": "cairn.cli.prune_cmd:prune",
    "repair": "cairn.cli.repair_cmd:repair",
    "jobs": "cairn.cli.jobs_cmd:jobs",
    "agent": "cairn.cli.agent_cmd:agent",
    "throttle": "cairn.cli.throttle_cmd:throttle",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cairn")
def cli() -> None:
    """Cairn: deduplicated, compressed, encrypted backups of files and folders to a vault."""


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="cairn", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("cairn: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except CairnError as e:
        click.echo(f"cairn: {e}", err=True)
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        click.echo("cairn: interrupted", err=True)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(0)


if __name__ == "__main__":
    main()
