"""How the CLI reaches a running agent: the port from CAIRN_HOME/agent.json, the bearer secret from
CAIRN_HOME/agent.secret, JSON over HTTP on 127.0.0.1 (never through a proxy).

`AgentClient.find` returns None when no agent runs (no agent.json, its process gone, or no answer),
and the CLI then does the work in its own process.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from cairn.agent.jobstore import Job
from cairn.core.errors import CairnError

INFO_FILE = "agent.json"  # {"port", "pid", "started", "version", "console_url"}, 0600
SECRET_FILE = "agent.secret"  # the bearer secret of the local API, 0600
TIMEOUT_S = 10.0


class AgentError(CairnError):
    """An error the agent answered with; it carries the agent's exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class AgentClient:
    def __init__(self, port: int, secret: str) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self._secret = secret
        self._open = urllib.request.build_opener(urllib.request.ProxyHandler({})).open

    def __repr__(self) -> str:
        return f"AgentClient({self.base})"

    @classmethod
    def find(cls, home: Path) -> AgentClient | None:
        try:
            info = json.loads((home / INFO_FILE).read_text())
            port, pid = int(info["port"]), int(info["pid"])
            secret = (home / SECRET_FILE).read_text().strip()
        except (OSError, ValueError, KeyError, TypeError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass  # another user's process: the secret decides
        client = cls(port, secret)
        try:
            client.status(timeout=2.0)
        except (CairnError, OSError):
            return None
        return client

    def _call(self, method: str, path: str, body: Any = None, timeout: float = TIMEOUT_S) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self._secret}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with self._open(request, timeout=timeout) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as e:
            try:
                doc = json.loads(e.read())
                raise AgentError(str(doc["error"]), int(doc["exit_code"])) from None
            except (ValueError, KeyError, TypeError):
                raise AgentError(f"the agent answered HTTP {e.code}", 1) from None
        except (urllib.error.URLError, TimeoutError, ConnectionError) as e:
            reason = getattr(e, "reason", e)
            raise AgentError(f"the agent at {self.base} did not answer: {reason}", 1) from None

    def status(self, timeout: float = TIMEOUT_S) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/v1/status", timeout=timeout)
        return result

    def submit(self, kind: str, params: dict[str, Any]) -> Job:
        return Job.from_json(self._call("POST", "/v1/jobs", {"kind": kind, "params": params}))

    def job(self, job_id: str) -> Job:
        return Job.from_json(self._call("GET", f"/v1/jobs/{job_id}"))

    def jobs(
        self, status: str | None = None, last: int | None = None, kind: str | None = None
    ) -> list[Job]:
        query = []
        if status:
            query.append(f"status={urllib.parse.quote(status)}")
        if kind:
            query.append(f"kind={urllib.parse.quote(kind)}")
        if last is not None:
            query.append(f"last={int(last)}")
        path = "/v1/jobs" + ("?" + "&".join(query) if query else "")
        return [Job.from_json(doc) for doc in self._call("GET", path)]

    def cancel(self, job_id: str) -> Job:
        return Job.from_json(self._call("POST", f"/v1/jobs/{job_id}/cancel", {}))

    def console_token(self) -> str:
        """A one-time console login token (5 minutes, used once)."""
        return str(self._call("POST", "/v1/console/token", {})["token"])
