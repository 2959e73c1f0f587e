"""The kinds of credential the registry holds: named once here, imported everywhere a kind is listed.

A new kind is added to `Kind` (and so to `KINDS`); the request and answer models, the columns of its import
file and the facts a recognition rule reads are then looked up per kind where they are defined, not listed
again in every module.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

Kind = Literal["title", "skill", "card", "permit"]
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
