"""How an alert is sent: a JSON POST to a webhook, or a mail through an SMTP server.

Each send has a short timeout (`TIMEOUT_S`), so a dead receiver costs seconds, never a job: the
queue (engine/alert_queue.py) runs outside the backup and retries later. A failure is
`DeliveryFailed` naming the channel and the cause, never the webhook's path, query or a password.
"""

from __future__ import annotations

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any, Protocol

from cairn.core.errors import DeliveryFailed
from cairn.engine.alerts import AlertSettings, EmailTarget, webhook_host

TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Alert:
    """One message: `event` is "backup-failed", "stale", "critical-operation" or "test"."""

    id: str
    event: str
    machine: str
    subject: str
    message: str
    at: str
    condition: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "machine": self.machine,
            "subject": self.subject,
            "message": self.message,
            "at": self.at,
            "condition": self.condition,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Alert:
        return cls(
            str(doc["id"]),
            str(doc["event"]),
            str(doc["machine"]),
            str(doc["subject"]),
            str(doc["message"]),
            str(doc["at"]),
            doc.get("condition"),
        )


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


class Webhook:
    name = "webhook"

    def __init__(self, url: str) -> None:
        self._url = url

    def send(self, alert: Alert) -> None:
        body = json.dumps({"source": "cairn", **alert.to_json()}).encode()
        request = urllib.request.Request(
            self._url,
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "User-Agent": "cairn-alerts"},
        )
        where = webhook_host(self._url)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
                response.read(1 << 16)
        except urllib.error.HTTPError as e:
            raise DeliveryFailed(f"the webhook at {where} answered HTTP {e.code}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise DeliveryFailed(f"the webhook at {where} cannot be reached: {reason}") from None


class Email:
    name = "email"

    def __init__(self, target: EmailTarget) -> None:
        self._target = target

    def send(self, alert: Alert) -> None:
        t = self._target
        mail = EmailMessage()
        mail["Subject"] = alert.subject
        mail["From"] = t.sender
        mail["To"] = ", ".join(t.to)
        mail["X-Cairn-Event"] = alert.event
        mail.set_content(f"{alert.message}\n\nmachine: {alert.machine}\nat: {alert.at}\n")
        where = f"the SMTP server {t.host}:{t.port}"
        try:
            if t.security == "tls":
                context = ssl.create_default_context()
                server: smtplib.SMTP = smtplib.SMTP_SSL(
                    t.host, t.port, timeout=TIMEOUT_S, context=context
                )
            else:
                server = smtplib.SMTP(t.host, t.port, timeout=TIMEOUT_S)
            with server:
                if t.security == "starttls":
                    server.starttls(context=ssl.create_default_context())
                if t.user is not None:
                    server.login(t.user, t.password or "")
                server.send_message(mail)
        except smtplib.SMTPAuthenticationError as e:
            raise DeliveryFailed(
                f"{where} refused the login of {t.user!r} (SMTP {e.smtp_code}): check the user"
                " and password"
            ) from None
        except smtplib.SMTPNotSupportedError:
            raise DeliveryFailed(
                f"{where} does not offer STARTTLS: set --smtp-security tls or none"
            ) from None
        except smtplib.SMTPResponseException as e:
            raise DeliveryFailed(f"{where} answered SMTP {e.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as e:
            raise DeliveryFailed(f"{where} cannot take the mail: {type(e).__name__}: {e}") from None


def channels(settings: AlertSettings) -> list[Channel]:
    out: list[Channel] = []
    if settings.webhook is not None:
        out.append(Webhook(settings.webhook))
    if settings.email is not None:
        out.append(Email(settings.email))
    return out
