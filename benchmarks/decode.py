"""Decoding throughput: stored v1 events (upcast through two steps) vs current-version ones.

    python -m benchmarks.decode            # 200,000 events, best of 7
    python -m benchmarks.decode --quick    # 20,000 events, best of 3

Each event is a realistic ``StoredEvent`` as a journal returns it. "decode" is
``Codec.decode`` (what a projection runner pays per event, the ``Recorded``
envelope included); "data only" is ``Codec.decode_data`` (what an aggregate's
recovery pays: no envelope), which shows how much of the time is the envelope.
"""

from __future__ import annotations

import argparse
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeAlias

import msgspec

from kiroku.domain.envelope import JSON, StoredEvent
from kiroku.schema import Codec, Registry, event, upcaster

registry = Registry()


@event("bench.ItemAdded", version=3, registry=registry)
@dataclass(frozen=True, slots=True)
class ItemAdded:
    cart_id: str
    sku: str
    quantity: int
    unit_price_cents: int
    gift: bool = False


@upcaster("bench.ItemAdded", from_version=1, registry=registry)
def _v1(data: dict[str, JSON]) -> dict[str, JSON]:
    data.pop("note", None)
    data["gift"] = False
    return data


@upcaster("bench.ItemAdded", from_version=2, registry=registry)
def _v2(data: dict[str, JSON]) -> dict[str, JSON]:
    price = data.pop("unit_price")
    assert isinstance(price, int)
    data["quantity"] = data.pop("qty")
    data["unit_price_cents"] = price * 100
    return data


def stored(version: int, i: int) -> StoredEvent:
    if version == 1:
        body: object = {"cart_id": f"c-{i}", "sku": "tea-250g", "qty": i % 7, "unit_price": 7,
                        "note": "leave at the door"}  # fmt: skip
    else:
        body = ItemAdded(f"c-{i}", "tea-250g", i % 7, 700)
    return StoredEvent(
        position=i + 1,
        stream=f"cart-{i % 1000}",
        version=i // 1000 + 1,
        type="bench.ItemAdded",
        schema_version=version,
        data=msgspec.json.encode(body),
        event_id=uuid.uuid4(),
        occurred_at=datetime(2024, 1, 1, tzinfo=UTC),
        correlation_id=None,
        causation_id=None,
        metadata={},
    )


Case: TypeAlias = tuple[list[StoredEvent], Callable[[StoredEvent], object]]


def timed(case: Case) -> float:
    events, decode = case
    start = time.perf_counter()
    for e in events:
        decode(e)
    return time.perf_counter() - start


def best_rates(cases: dict[str, Case], rounds: int) -> dict[str, float]:
    """Events/s of each case's fastest round. Rounds of the cases are interleaved,
    so a burst of other work on the machine slows one round, not one case."""
    best = dict.fromkeys(cases, float("inf"))
    for _ in range(rounds):
        for label, case in cases.items():
            best[label] = min(best[label], timed(case))
    return {label: len(cases[label][0]) / seconds for label, seconds in best.items()}


def build_cases(count: int) -> dict[str, Case]:
    codec = Codec(registry)
    spec = registry.resolve("bench.ItemAdded")

    def data_only(e: StoredEvent) -> object:
        return codec.decode_data(spec, e.schema_version, e.data)

    cases: dict[str, Case] = {}
    for version, label in ((3, "current (v3)"), (1, "v1, upcast v1->v2->v3")):
        events = [stored(version, i) for i in range(count)]
        assert codec.decode(events[0]).data == codec.decode(stored(3, 0)).data
        cases[f"decode {label}"] = (events, codec.decode)
        cases[f"data only {label}"] = (events, data_only)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20,000 events, 3 rounds")
    args = parser.parse_args()
    count, rounds = (20_000, 3) if args.quick else (200_000, 7)
    results = best_rates(build_cases(count), rounds)
    print(f"{count:,} events per case, best of {rounds} interleaved rounds:")
    for label, rate in results.items():
        print(f"  {label:<36} {rate:>12,.0f} events/s")
    ratio = results["decode current (v3)"] / results["decode v1, upcast v1->v2->v3"]
    print(f"  a v1 event costs {ratio:.1f}x a current one through Codec.decode")


if __name__ == "__main__":
    main()
