"""`cairn`: the entry point. Turns Cairn's errors into their exit codes (DESIGN.md)."""

from __future__ import annotations

import sys

import click

from cairn import __version__
from cairn.cli import backup_cmd, check_cmd, points_cmd, restore_cmd, vault_cmd
from cairn.core.errors import EXIT_INTERRUPTED, CairnError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cairn")
def cli() -> None:
    """Cairn: deduplicated, compressed, encrypted backups of files and folders to a vault."""


cli.add_command(vault_cmd.vault)
cli.add_command(vault_cmd.register)
cli.add_command(backup_cmd.backup)
cli.add_command(points_cmd.recovery_points)
cli.add_command(restore_cmd.ls)
cli.add_command(restore_cmd.restore)
cli.add_command(check_cmd.check)


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
