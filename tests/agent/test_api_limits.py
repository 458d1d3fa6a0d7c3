"""The agent's API against hostile requests over real HTTP: requests without the secret, from a
foreign Host or Origin, with oversized bodies or headers, with huge or malformed values. Each is
refused with a clear status (401, 400, 403, 413) and the agent goes on serving."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.agent.conftest import AgentProcess


def raw(
    agent: AgentProcess,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    secret: bool = True,
) -> tuple[int, bytes]:
    port = agent.info()["port"]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    given = {"Host": f"127.0.0.1:{port}"}
    if secret:
        given["Authorization"] = "Bearer " + (agent.cli.home / "agent.secret").read_text().strip()
    given.update(headers or {})
    try:
        conn.request(method, path, body=body, headers=given)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def still_serves(agent: AgentProcess) -> None:
    assert raw(agent, "GET", "/v1/status")[0] == 200


def test_a_request_without_the_secret_is_refused(agent: AgentProcess) -> None:
    code, body = raw(agent, "GET", "/v1/jobs", secret=False)

    assert code == 401 and b"secret" in body
    code, _ = raw(agent, "POST", "/v1/jobs", b'{"kind": "check"}', secret=False)
    assert code == 401
    assert agent.client.jobs() == []


def test_a_foreign_host_is_refused(agent: AgentProcess) -> None:
    code, _ = raw(agent, "GET", "/v1/status", headers={"Host": "attacker.example"})

    assert code == 400


@pytest.mark.parametrize(
    "origin", ["https://attacker.example", "http://127.0.0.1.attacker.example", "null"]
)
def test_a_foreign_origin_is_refused_even_with_the_secret(agent: AgentProcess, origin: str) -> None:
    code, body = raw(agent, "POST", "/v1/jobs", b'{"kind": "check"}', headers={"Origin": origin})

    assert code == 403 and b"origin" in body.lower()
    assert agent.client.jobs() == []


def test_a_loopback_origin_is_accepted(agent: AgentProcess) -> None:
    port = agent.info()["port"]

    code, _ = raw(agent, "GET", "/v1/status", headers={"Origin": f"http://127.0.0.1:{port}"})

    assert code == 200


def test_an_oversized_body_is_refused_with_413(agent: AgentProcess) -> None:
    body = json.dumps({"kind": "backup", "params": {"paths": ["/x" * 500_000]}}).encode()

    code, text = raw(agent, "POST", "/v1/jobs", body, headers={"Content-Type": "application/json"})

    assert code == 413 and b"larger than" in text
    assert agent.client.jobs() == []
    still_serves(agent)


def test_an_oversized_chunked_body_is_refused_with_413(agent: AgentProcess) -> None:
    # No Content-Length: the limit holds while the body streams in.
    port = agent.info()["port"]
    secret = (agent.cli.home / "agent.secret").read_text().strip()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    chunks = (b"[" * 10_000 for _ in range(100))
    conn.request(
        "POST",
        "/v1/jobs",
        body=chunks,
        headers={"Host": f"127.0.0.1:{port}", "Authorization": f"Bearer {secret}"},
        encode_chunked=True,
    )
    try:
        status = conn.getresponse().status
    finally:
        conn.close()

    assert status == 413
    assert agent.client.jobs() == []
    still_serves(agent)


def test_a_huge_header_is_refused_and_the_agent_goes_on(agent: AgentProcess) -> None:
    try:
        code, _ = raw(agent, "GET", "/v1/status", headers={"X-Filler": "a" * 200_000})
    except (ConnectionError, http.client.HTTPException):
        code = 0  # the server closed the connection: refused too
    assert code in (0, 400, 413, 431)
    still_serves(agent)


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/v1/jobs?last=" + "9" * 40, None),
        ("/v1/jobs?status=" + "x" * 50_000, b"is not a job state"),
        ("/v1/jobs/" + "f" * 50_000, b"is not a job id"),
    ],
)
def test_huge_values_in_the_url_get_a_short_clear_error(
    agent: AgentProcess, path: str, problem: bytes | None
) -> None:
    code, body = raw(agent, "GET", path)

    if problem is None:
        assert code == 200
    else:
        assert code == 400 and problem in body and len(body) < 1000
    still_serves(agent)


@pytest.mark.parametrize(
    "body", [b"\xff\xfe", b"{" * 50_000, b'{"kind": "check", "params": ' + b"[" * 5_000 + b"]"]
)
def test_a_malformed_body_is_a_400(agent: AgentProcess, body: bytes) -> None:
    code, text = raw(agent, "POST", "/v1/jobs", body)

    assert code == 400, text
    assert agent.client.jobs() == []
