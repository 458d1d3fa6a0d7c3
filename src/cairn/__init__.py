"""Cairn: a backup agent. Deduplicated, compressed, encrypted backups of files and folders to a vault."""

__version__ = "0.1.0"
