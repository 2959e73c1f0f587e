"""The 急需紧缺人才目录 (shortage catalogue): its editions (seeded data) and its entries (imported by admins).

An entry names the credential it asks for by a title series or a skill occupation code (one of the two), and
the region whose employers list it; a null region means the post is listed for both regions (the catalogue is
published jointly for the 成渝 economic circle).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base
from app.models.columns import BigId, in_list

URGENCIES = ("severe", "moderate", "mild")


class CatalogueEdition(Base):
    """One published edition of the catalogue; `current` editions are the ones verification answers match."""

    __tablename__ = "catalogue_editions"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    published_on: Mapped[date | None] = mapped_column(Date)
    current: Mapped[bool] = mapped_column(Boolean, default=False)
    superseded_by: Mapped[str | None] = mapped_column(String(16))
    # The counts the edition was published with (null: not known), beside what has been imported.
    clusters_published: Mapped[int | None] = mapped_column(Integer)
    posts_published: Mapped[int | None] = mapped_column(Integer)
    severe_published: Mapped[int | None] = mapped_column(Integer)
    moderate_published: Mapped[int | None] = mapped_column(Integer)
    mild_published: Mapped[int | None] = mapped_column(Integer)
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str | None] = mapped_column(Text)


class CatalogueEntry(Base):
    """A post of an edition. Its key is (edition, cluster, post, region): re-importing it with the same
    series, occupation and urgency changes nothing."""

    __tablename__ = "catalogue_entries"
    __table_args__ = (
        UniqueConstraint("edition_code", "cluster", "post", "region_code", name="uq_catalogue_entries_key"),
        CheckConstraint(in_list("urgency", URGENCIES), name="urgency"),
        CheckConstraint("title_series_code IS NOT NULL OR occupation_code IS NOT NULL", name="asks_for"),
        # Verification's index reads entries by edition; the public listing filters by edition and region.
        Index("ix_catalogue_entries_edition_region", "edition_code", "region_code", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    edition_code: Mapped[str] = mapped_column(ForeignKey("catalogue_editions.code"))
    cluster: Mapped[str] = mapped_column(String(100))
    post: Mapped[str] = mapped_column(String(200))
    title_series_code: Mapped[str | None] = mapped_column(ForeignKey("title_series.code"))
    occupation_code: Mapped[str | None] = mapped_column(String(32))
    urgency: Mapped[str] = mapped_column(String(8))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"))
    import_job_id: Mapped[str | None] = mapped_column(String(32))
    # Bumped when a re-import changes the entry (as a credential's version).
    version: Mapped[int] = mapped_column(BigInteger, default=1)
