"""What a bulk import may load: every kind of credential, and the shortage catalogue's rows, which are not
credentials (app.imports.catalogue_pass) but travel through the same jobs, files and error reports."""

from __future__ import annotations

from typing import Final, Literal, get_args

from app.domain.kinds import Kind

ImportKind = Literal[Kind, "catalogue"]
IMPORT_KINDS: Final[tuple[str, ...]] = get_args(ImportKind)
