"""The agent's local API over real HTTP: the bearer secret, the loopback Host, and clear errors
for bad requests (each with the exit code the CLI would use)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from cairn.agent.client import AgentError
from tests.agent.conftest import AgentProcess


def call(
    agent: AgentProcess,
    method: str,
    path: str,
    body: object = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, object]]:
    port = agent.info()["port"]
    secret = (agent.cli.home / "agent.secret").read_text().strip()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {secret}", **(headers or {})},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        text = e.read()
        return e.code, json.loads(text) if text.startswith(b"{") else {"body": text.decode()}


def test_requests_need_the_secret_and_a_loopback_host(agent: AgentProcess) -> None:
    assert call(agent, "GET", "/v1/status")[0] == 200
    code, doc = call(agent, "GET", "/v1/status", headers={"Authorization": "Bearer nope"})
    assert code == 401 and "secret" in str(doc["error"])
    code, _ = call(agent, "GET", "/v1/jobs", headers={"Host": "evil.example:80"})
    assert code == 400  # a page on a rebound DNS name cannot reach the agent


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"kind": "defrag"}, "not a job kind"),
        ({"kind": "backup", "params": {"paths": "/srv"}}, "list of strings"),
        ({"kind": "backup", "params": {"retain_until": "soon"}}, "not a date"),
        ({"kind": "restore", "params": {"conflict": "merge"}}, "--conflict must be one of"),
        ({"kind": "check", "params": {"subset": [3, 2]}}, "subset must be"),
        ({"kind": "prune", "params": {"grace_hours": -1}}, "grace_hours"),
        ([1, 2], "must be an object"),
    ],
)
def test_bad_jobs_are_refused_with_exit_code_2(
    agent: AgentProcess, body: object, message: str
) -> None:
    code, doc = call(agent, "POST", "/v1/jobs", body)
    assert code == 400
    assert message in str(doc["error"]) and doc["exit_code"] == 2
    assert agent.client.jobs() == []


def test_unknown_jobs_are_404(agent: AgentProcess) -> None:
    code, doc = call(agent, "GET", "/v1/jobs/abcdef")
    assert code == 404 and "no job" in str(doc["error"])
    with pytest.raises(AgentError, match="no job") as raised:
        agent.client.cancel("abcdef")
    assert raised.value.exit_code == 2
    code, _ = call(agent, "GET", "/v1/jobs?last=zero")
    assert code == 400
