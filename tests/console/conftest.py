"""The console's tests use the people fixtures: staff in the test database, a movable clock, sign-in."""

from tests.people.conftest import clock, cookie_client, new_person

__all__ = ["clock", "cookie_client", "new_person"]
