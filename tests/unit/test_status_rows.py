"""How ``kiroku status`` judges one process from its beat: dead by age in intervals,
lag from the lowest checkpoint it holds (the relay's only while active)."""

from __future__ import annotations

from typing import Any

import msgspec

from kiroku.cli.status import Report, node_row, render
from kiroku.roles.heartbeat import DEAD_AFTER, Beat, Seen

BASE = Beat("n", ["projector"], "h", 1, "", 0.0, 1.0)


def beat(**kw: Any) -> Beat:
    return msgspec.structs.replace(BASE, **kw)


def test_a_beat_older_than_the_dead_intervals_is_dead() -> None:
    assert not Seen(beat(), DEAD_AFTER * 1.0).dead
    assert Seen(beat(), DEAD_AFTER * 1.0 + 0.1).dead
    assert Seen(beat(interval=0.2), DEAD_AFTER * 0.2 + 0.1).dead


def test_lag_is_the_head_minus_the_lowest_read_model() -> None:
    positions = {"journal": 90, "projection:a": 80, "projection:b": 60}
    row = node_row(Seen(beat(positions=positions), 0.0), head=100, max_lag=30)
    assert (row["position"], row["lag"], row["behind"], row["state"]) == (60, 40, True, "alive")


def test_a_standby_relay_holds_no_position_and_an_active_one_does() -> None:
    standby = beat(roles=["relay"], positions={"relay": 3}, relay_active=False)
    row = node_row(Seen(standby, 0.0), head=100, max_lag=0)
    assert (row["state"], row["lag"], row["behind"]) == ("standby", None, False)
    active = beat(roles=["relay"], positions={"relay": 97}, relay_active=True)
    assert node_row(Seen(active, 0.0), head=100, max_lag=0)["lag"] == 3


def test_a_dead_process_is_not_also_reported_behind() -> None:
    row = node_row(Seen(beat(positions={"projection:a": 0}), 60.0), head=100, max_lag=0)
    assert (row["state"], row["behind"]) == ("dead", False)


def test_not_ready_roles_are_shown_with_why() -> None:
    seen = Seen(beat(ready={"projector": "chat.history: rebuilding", "read": "ok"}), 0.0)
    report = Report("sqlite:///j", head=0, nodes=[node_row(seen, 0, 0)])
    assert "projector: chat.history: rebuilding" in "\n".join(render(report))
