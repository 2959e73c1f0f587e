"""TOTP second factors (RFC 6238) through pyotp: 30-second steps, six digits, SHA-1 as authenticator apps
expect, one step of clock drift either way, and each accepted step used once."""

from __future__ import annotations

import io
from datetime import datetime

import pyotp
import segno

ISSUER = "huren 川渝互认"
DRIFT_STEPS = 1


def new_totp_secret() -> str:
    return pyotp.random_base32()  # 160 bits, RFC 4226's recommended length


def totp_uri(secret: str, username: str) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def totp_qr_svg(uri: str) -> str:
    """The URI as a QR code in SVG, for the sign-in page to show: the page has no QR library, and its
    content security policy admits no image from elsewhere. Plain shapes only: no script, style or link."""
    image = io.BytesIO()
    segno.make_qr(uri, error="m").save(
        image,
        kind="svg",
        xmldecl=False,
        svgns=True,
        nl=False,
        scale=5,
        border=4,
        svgclass=None,
        lineclass=None,
    )
    return image.getvalue().decode("utf-8")


def accepted_step(secret: str, code: str, now: datetime, last_step: int | None) -> int | None:
    """The time step `code` is good for (within the drift window), or None. A step at or before the last
    one accepted is refused: RFC 6238 §5.2, a code is not accepted twice."""
    code = code.strip()
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in range(-DRIFT_STEPS, DRIFT_STEPS + 1):
        step = current + offset
        if last_step is not None and step <= last_step:
            continue
        if pyotp.utils.strings_equal(totp.at(now, counter_offset=offset), code):
            return step
    return None
