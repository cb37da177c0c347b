"""The ``kiroku`` command. Each command group lives in its own module and is
attached here, so adding a command never means editing another's file."""

from __future__ import annotations

from kiroku.cli.app import main

__all__ = ["main"]
