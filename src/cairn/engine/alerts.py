"""Where alerts go: a webhook and/or email, kept in CAIRN_HOME (0600: both may hold secrets).

    CAIRN_HOME/alerts.json   {"webhook": URL | null,
                              "email": {"to": [ADDRESS, ...], "sender": ADDRESS, "host": HOST,
                                        "port": N, "security": "starttls" | "tls" | "none",
                                        "user": USER | null, "password": PASSWORD | null} | null}

A webhook URL often carries a token in its path or query (Slack, Teams, ntfy), so it counts as a
secret as the SMTP password does: `describe` shows only its scheme and host, and no message names
more. What is sent, when, and how often: engine/alert_queue.py; how: engine/alert_channels.py.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlsplit

from cairn.core.errors import CairnError, UsageError
from cairn.engine.home import Home, write_private

ALERTS_FILE = "alerts.json"
SECURITY = ("starttls", "tls", "none")
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True, slots=True)
class EmailTarget:
    to: tuple[str, ...]
    sender: str
    host: str
    port: int
    security: str = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "to": list(self.to),
            "sender": self.sender,
            "host": self.host,
            "port": self.port,
            "security": self.security,
            "user": self.user,
            "password": self.password,
        }


@dataclass(frozen=True, slots=True)
class AlertSettings:
    webhook: str | None = field(default=None, repr=False)
    email: EmailTarget | None = None

    @property
    def configured(self) -> bool:
        return self.webhook is not None or self.email is not None

    def channels(self) -> list[str]:
        return [name for name, on in (("webhook", self.webhook), ("email", self.email)) if on]

    def to_json(self) -> dict[str, Any]:
        return {"webhook": self.webhook, "email": self.email.to_json() if self.email else None}


def webhook_host(url: str) -> str:
    """What may be shown of a webhook URL: its scheme and host (the rest may be a token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}{f':{parts.port}' if parts.port else ''}/..."


def describe(settings: AlertSettings) -> dict[str, Any]:
    """The settings without their secrets, for `cairn alerts show`."""
    email = settings.email
    return {
        "webhook": webhook_host(settings.webhook) if settings.webhook else None,
        "email": None
        if email is None
        else {
            "to": list(email.to),
            "sender": email.sender,
            "smtp": f"{email.host}:{email.port}",
            "security": email.security,
            "user": email.user,
            "password": "set" if email.password else None,
        },
    }


def load_alerts(home: Home) -> AlertSettings:
    path = home.path / ALERTS_FILE
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        return AlertSettings()
    except (OSError, ValueError):
        raise CairnError(f"{path} is damaged: `cairn alerts set` again") from None
    try:
        email = doc.get("email")
        return AlertSettings(
            webhook=doc.get("webhook"),
            email=None
            if email is None
            else EmailTarget(
                to=tuple(str(a) for a in email["to"]),
                sender=str(email["sender"]),
                host=str(email["host"]),
                port=int(email["port"]),
                security=str(email.get("security", "starttls")),
                user=email.get("user"),
                password=email.get("password"),
            ),
        )
    except (AttributeError, KeyError, TypeError, ValueError):
        raise CairnError(f"{path} is damaged: `cairn alerts set` again") from None


def save_alerts(home: Home, settings: AlertSettings) -> None:
    write_private(home.path / ALERTS_FILE, json.dumps(settings.to_json(), indent=1).encode())


def check_webhook(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            "--webhook: give an http:// or https:// URL with a host (the URL itself is not shown)"
        )
    return url


def parse_smtp(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--smtp {value!r}: give HOST:PORT, like smtp.example.com:587")
    return host.strip("[]"), int(port)


def set_alerts(
    home: Home,
    *,
    off: bool = False,
    webhook: str | None = None,
    no_webhook: bool = False,
    email: tuple[str, ...] = (),
    no_email: bool = False,
    smtp: str | None = None,
    smtp_user: str | None = None,
    smtp_password: str | None = None,
    smtp_security: str | None = None,
    sender: str | None = None,
) -> AlertSettings:
    """Change the alert settings from `cairn alerts set`'s flags; what is not named is kept."""
    current = AlertSettings() if off else load_alerts(home)
    if off and (webhook or email or smtp):
        raise UsageError("--off removes every alert target: give it alone")
    if webhook is not None and no_webhook:
        raise UsageError("give --webhook URL or --no-webhook, not both")
    if email and no_email:
        raise UsageError("give --email TO or --no-email, not both")
    hook = None if no_webhook else check_webhook(webhook) if webhook else current.webhook
    target = None if no_email else current.email
    for address in (*email, *([sender] if sender else [])):
        if not _ADDRESS.match(address):
            raise UsageError(f"{address!r} is not an email address like admin@example.com")
    if smtp_security is not None and smtp_security not in SECURITY:
        raise UsageError(f"--smtp-security: {smtp_security!r}; allowed: {', '.join(SECURITY)}")
    if not no_email and (email or smtp or smtp_user or smtp_password or smtp_security or sender):
        if target is None:
            if not email or smtp is None:
                raise UsageError("email alerts need both --email TO and --smtp HOST:PORT")
            host, port = parse_smtp(smtp)
            target = EmailTarget(email, sender or f"cairn@{socket.gethostname()}", host, port)
        else:
            if email:
                target = replace(target, to=email)
            if smtp is not None:
                host, port = parse_smtp(smtp)
                target = replace(target, host=host, port=port)
            if sender:
                target = replace(target, sender=sender)
        if smtp_security is not None:
            target = replace(target, security=smtp_security)
        if smtp_user is not None:
            if smtp_password is None:
                raise UsageError(
                    "--smtp-user needs its password: --smtp-password-file FILE or"
                    " CAIRN_SMTP_PASSWORD"
                )
            target = replace(target, user=smtp_user or None, password=smtp_password or None)
        elif smtp_password is not None:
            if target.user is None:
                raise UsageError("an SMTP password needs --smtp-user USER")
            target = replace(target, password=smtp_password)
    settings = AlertSettings(hook, target)
    save_alerts(home, settings)
    return settings
