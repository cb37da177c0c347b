"""Payments: an irreversible effect, so the consumer holds back.

``PaymentConsumer`` is a hold-back consumer: a booking is charged only once the
compensation window has passed without a retraction, so a mistaken booking
retracted inside the window is never charged at all. If a retraction comes
late — after the charge — ``compensate`` reverses exactly the money movement
that event caused. Every movement is keyed by the causing event's id, so a
crash between charging and recording the release cannot charge twice.

``FakePaymentGateway`` is an in-process stand-in for a card processor with the
one property that matters here: idempotency keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from kiroku import Recorded
from kiroku.apps.travel.events import ReservationAmended, ReservationBooked, ReservationCancelled
from kiroku.corrections import DEFAULT_WINDOW, EventRetracted

__all__ = ["FakePaymentGateway", "Movement", "PaymentConsumer"]


@dataclass(frozen=True, slots=True)
class Movement:
    """Money moved for a reservation: positive is a charge, negative a refund."""

    key: str
    reservation_id: str
    amount: int
    currency: str


class FakePaymentGateway:
    def __init__(self) -> None:
        self.movements: list[Movement] = []
        self._by_key: dict[str, Movement] = {}

    async def move(self, key: str, reservation_id: str, amount: int, currency: str) -> Movement:
        """Charge (amount > 0) or refund (amount < 0); a repeated key moves nothing."""
        existing = self._by_key.get(key)
        if existing is not None:
            return existing
        movement = Movement(key, reservation_id, amount, currency)
        self.movements.append(movement)
        self._by_key[key] = movement
        return movement

    async def reverse(self, key: str) -> Movement | None:
        """Undo the movement made under ``key`` (once); None if there was none."""
        original = self._by_key.get(key)
        if original is None:
            return None
        return await self.move(
            f"reverse:{key}", original.reservation_id, -original.amount, original.currency
        )

    def balance(self, reservation_id: str) -> int:
        return sum(m.amount for m in self.movements if m.reservation_id == reservation_id)

    def currency_of(self, reservation_id: str) -> str:
        return next((m.currency for m in self.movements if m.reservation_id == reservation_id), "")


class PaymentConsumer:
    """Charges bookings, settles amendments and refunds cancellations, late."""

    name = "travel.payments"
    handles: tuple[type, ...] = (ReservationBooked, ReservationAmended, ReservationCancelled)

    def __init__(self, gateway: FakePaymentGateway, hold: timedelta = DEFAULT_WINDOW) -> None:
        self.gateway = gateway
        self.hold = hold

    async def act(self, event: Recorded[object]) -> None:
        key, rid, data = str(event.event_id), event.stream_id, event.data
        if isinstance(data, ReservationBooked):
            await self.gateway.move(key, rid, data.total, data.currency)
        elif isinstance(data, ReservationAmended):
            delta = data.total - data.previous_total
            if delta:
                await self.gateway.move(key, rid, delta, self.gateway.currency_of(rid))
        elif isinstance(data, ReservationCancelled):
            paid = self.gateway.balance(rid)
            if paid:
                await self.gateway.move(key, rid, -paid, self.gateway.currency_of(rid))

    async def compensate(
        self, retraction: Recorded[EventRetracted], original: Recorded[object]
    ) -> None:
        await self.gateway.reverse(str(original.event_id))
