"""A credential as the registry reads it back: the row and what its answer needs from the rows around it.

Its own module because both sides use it: the service builds records, the schemas present them.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.models import Credential, Holder, Organisation, TitleCode


@dataclass
class CredentialRecord:
    """A credential with what its answer needs from the holder, the issuer and the code tables."""

    credential: Credential
    holder: Holder
    issuer: Organisation
    supersedes: str | None
    title: TitleCode | None
    skill_level_name: str | None
    card_class_name: str | None
    permit_class_name: str | None = None
