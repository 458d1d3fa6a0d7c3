"""`cairn`: the entry point. Turns Cairn's errors into their exit codes (DESIGN.md)."""

from __future__ import annotations

import importlib
import json
import sys
from typing import NoReturn

import click

from cairn import __version__
from cairn.cli import render
from cairn.core.errors import EXIT_ERROR, EXIT_INTERRUPTED, CairnError

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
    "console": "cairn.cli.console_cmd:console",
    "throttle": "cairn.cli.throttle_cmd:throttle",
    "passphrase": "cairn.cli.passphrase_cmd:passphrase",
    "offline": "cairn.cli.offline_cmd:offline_group",
    "status": "cairn.cli.status_cmd:status",
    "alerts": "cairn.cli.alerts_cmd:alerts",
    "security": "cairn.cli.security_cmd:security",
    "protection": "cairn.cli.protection_cmd:protection_group",
    "unregister": "cairn.cli.unregister_cmd:unregister",
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
    args = sys.argv[1:] if argv is None else argv
    # With --json, every failure is also one JSON object on stdout, so scripts parse every outcome.
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    try:
        cli.main(args=args, prog_name="cairn", standalone_mode=False)
    except click.exceptions.Abort:
        _fail("interrupted", EXIT_INTERRUPTED, as_json)
    except click.ClickException as e:
        e.show()
        _fail(e.format_message(), e.exit_code, as_json, shown=True)
    except CairnError as e:
        _fail(str(e), e.exit_code, as_json)
    except KeyboardInterrupt:
        _fail("interrupted", EXIT_INTERRUPTED, as_json)
    except Exception as e:
        if as_json:
            _emit_error(f"internal error: {type(e).__name__}: {e}", EXIT_ERROR)
        raise
    sys.exit(0)


def _fail(message: str, code: int, as_json: bool, shown: bool = False) -> NoReturn:
    if not shown:
        click.echo(f"cairn: {message}", err=True)
    if as_json:
        _emit_error(message, code)
    sys.exit(code)


def _emit_error(message: str, code: int) -> None:
    """{"error", "exit_code"} on stdout, unless the command printed its result already (a check
    that found damage prints its result, whose "ok" and "errors" say so, then exits 14)."""
    if render.emitted_results() == 0:
        click.echo(json.dumps({"error": message, "exit_code": code}))


if __name__ == "__main__":
    main()
