"""Honour a cancellation that a driver swallowed.

On Python 3.11 ``asyncio.wait_for`` can return a result that raced a cancel
request, and nats-py awaits most replies that way: a task being stopped then
carries on (a relay's lease keeper renewing forever, a runner fetching
forever), and whoever awaits its end waits forever. The task still counts the
request (``Task.cancelling``), so loops around driver calls call ``recancel``.
"""

from __future__ import annotations

import asyncio

__all__ = ["recancel"]


def recancel() -> None:
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
