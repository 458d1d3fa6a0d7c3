"""Forms post `application/x-www-form-urlencoded` (no multipart: the console runs on the machine it
serves, so a file is named by its path). `read_form` gives each field's values."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.requests import Request

MAX_FORM_BYTES = 1 << 20


class Form:
    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        return list(self.fields.get(name, []))

    def __contains__(self, name: str) -> bool:
        return name in self.fields


def parse_form(body: bytes) -> Form:
    return Form(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))


async def read_form(request: Request) -> Form:
    return parse_form(await request.body())
