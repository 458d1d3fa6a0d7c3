"""The console's one-time login tokens: 5 minutes, once, never another's."""

from __future__ import annotations

from cairn.agent.logintokens import LIFETIME_S, LoginTokens


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_works_once() -> None:
    tokens = LoginTokens()
    token = tokens.issue()
    assert tokens.redeem(token) is True
    assert tokens.redeem(token) is False


def test_a_token_expires_after_five_minutes() -> None:
    clock = Monotonic()
    tokens = LoginTokens(clock)
    early, late = tokens.issue(), tokens.issue()
    clock.now += LIFETIME_S - 1
    assert tokens.redeem(early) is True
    clock.now += 2
    assert LIFETIME_S == 300 and tokens.redeem(late) is False


def test_a_wrong_token_is_refused_and_uses_up_nothing() -> None:
    tokens = LoginTokens()
    token = tokens.issue()
    assert tokens.redeem(token[:-1] + ("A" if token[-1] != "A" else "B")) is False
    assert tokens.redeem("") is False
    assert tokens.redeem(token) is True
