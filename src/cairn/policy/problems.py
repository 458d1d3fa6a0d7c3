"""Which field of a policy a refusal is about: for a form that shows the message beside it.

Every refusal of a policy (`UsageError` from `model`, `parsing`, `limits`, and the engine's checks
of items and exclusions) starts with the field it is about, spelled as in the policy file:
``retention.weekly.weeks: 3 is out of range; allowed: 4 to 5163 weeks``, or a table in brackets
(``[retention.daily]: required``). `problem_of` reads that field back, so the console shows
`policy set`'s very words beside the control, and the message itself stays one string made in one
place. A message about the policy as a whole (``retention: this policy can keep up to ...``) names
the table; an exclusion pattern refused by `fs.exclusions` ("exclusion pattern '[' ...") is about
``policy.exclude``; one about no field (``the policy file: ...``) gives `field` None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_EXCLUSION = "exclusion pattern "
_FIELD = re.compile(r"\[?((?:policy|schedule|retention|offline)(?:\.[a-z_]+)*)\]?: ")


@dataclass(frozen=True, slots=True)
class PolicyProblem:
    field: str | None
    """As spelled in the policy file, e.g. "retention.weekly.weeks"; None if none is named."""
    message: str
    """Exactly what `cairn policy set` prints after "cairn: "."""


def problem_of(message: str) -> PolicyProblem:
    match = _FIELD.match(message)
    if match:
        return PolicyProblem(match[1], message)
    if message.startswith(_EXCLUSION):  # fs.exclusions names the pattern, not the field
        return PolicyProblem("policy.exclude", message)
    return PolicyProblem(None, message)
