"""The compensation window: a deployment's promise that any invalid event will be
retracted within it (default 24 hours).

Hold-back consumers wait this long before acting; a retraction after it is
still written, but flagged ``late`` and reported with every consumer that had
already acted, because those effects were not protected by the promise.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from kiroku.errors import ConfigError

__all__ = ["DEFAULT_WINDOW", "CompensationWindow", "parse_duration"]

DEFAULT_WINDOW = timedelta(hours=24)
ENV_VAR = "KIROKU_COMPENSATION_WINDOW"
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")


def parse_duration(text: str) -> timedelta:
    """``"24h"``, ``"90m"``, ``"1d12h"``, ``"30s"`` -> timedelta; ConfigError otherwise."""
    cleaned = text.strip().lower().replace(" ", "")
    parts = _PART.findall(cleaned)
    if not cleaned or "".join(n + u for n, u in parts) != cleaned:
        raise ConfigError(f"Invalid duration {text!r}: use e.g. '24h', '90m', '1d12h', '30s'")
    return timedelta(seconds=sum(float(n) * _UNITS[u] for n, u in parts))


@dataclass(frozen=True, slots=True)
class CompensationWindow:
    """How long after an event its retraction is still on time."""

    length: timedelta = DEFAULT_WINDOW

    def __post_init__(self) -> None:
        if self.length < timedelta(0):
            raise ConfigError(f"The compensation window must not be negative, got {self.length}")

    def closes_at(self, occurred_at: datetime) -> datetime:
        return occurred_at + self.length

    def is_late(self, occurred_at: datetime, now: datetime) -> bool:
        """True when a retraction at ``now`` breaks the promise for an event at ``occurred_at``."""
        return now > self.closes_at(occurred_at)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> CompensationWindow:
        """Read ``KIROKU_COMPENSATION_WINDOW`` (e.g. ``24h``); the default if unset."""
        value = (os.environ if env is None else env).get(ENV_VAR)
        return cls() if not value else cls(parse_duration(value))
