"""Keep API keys out of every string the layer produces (errors, failure reasons, logs)."""

from __future__ import annotations

import re

_BEARER = re.compile(r"(?i)(bearer\s+)[^\s'\"]+")
MASK = "***"


class Redactor:
    """Replaces each known secret, and any `Bearer <token>`, with a mask."""

    def __init__(self, *secrets: str | None) -> None:
        # Short strings would mask ordinary words; real keys are long.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 8}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return _BEARER.sub(rf"\g<1>{MASK}", text)

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"
