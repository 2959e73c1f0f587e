"""The factories' people never collide with the demo's: many tests import factory rows into a demo node."""

from __future__ import annotations

from app.demo import COUNTIES
from tests.factories import FACTORY_COUNTIES, resident_id


def test_factory_holders_live_in_counties_the_demo_never_uses() -> None:
    for region, county in FACTORY_COUNTIES.items():
        assert county not in COUNTIES[region]
        assert resident_id(region).startswith(county)
