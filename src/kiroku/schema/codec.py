"""Events to JSON bytes and back, through msgspec, with upcasting on the way in.

Events at their current version decode straight into their class with a cached
typed decoder (the fast path: no intermediate dict). Older events decode to a
plain JSON object, run through the upcaster chain, and are decoded into the
class at the end by the same typed decoder, with its strict rules, so an
upcaster that returns ``"5"`` where an ``int`` belongs fails loudly instead of
being coerced. The stored bytes are never rewritten.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

import msgspec

from kiroku.domain.envelope import JSON, Metadata, NewEvent, Recorded, StoredEvent, utc_now
from kiroku.domain.ids import new_id
from kiroku.errors import DecodeError, EncodeError, FutureSchemaVersionError, UpcastError
from kiroku.schema.registry import DEFAULT_REGISTRY, EventType, Registry, Upcaster
from kiroku.schema.state_json import encode_state

__all__ = ["Codec", "decode_json", "encode_json"]

S = TypeVar("S")

_encoder = msgspec.json.Encoder()
_json_decoder = msgspec.json.Decoder()
_ENCODE_ERRORS = (msgspec.EncodeError, TypeError, ValueError, OverflowError)
_UPCAST_SHAPE_ERRORS = (msgspec.DecodeError, *_ENCODE_ERRORS)


def encode_json(value: object) -> bytes:
    """Encode any msgspec-supported value; unsupported values raise EncodeError."""
    try:
        return _encoder.encode(value)
    except _ENCODE_ERRORS as e:
        raise EncodeError(type(value).__qualname__, str(e)) from e


def decode_json(data: bytes | str) -> JSON:
    return cast(JSON, _json_decoder.decode(data))


class Codec:
    """Encodes events into ``NewEvent`` and decodes ``StoredEvent`` into ``Recorded``.

    Constructing one validates the registry, so a broken upcaster chain stops
    the process at start-up.
    """

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry if registry is not None else DEFAULT_REGISTRY
        self.registry.validate()
        self._decoders: dict[type, msgspec.json.Decoder[Any]] = {}
        # The fast path: a current name -> (name, version, typed decoder). A name
        # never changes owner once registered, so entries cannot go stale.
        self._current: dict[str, tuple[str, int, msgspec.json.Decoder[Any]]] = {}
        self._state_decoders: dict[type, msgspec.json.Decoder[Any]] = {}
        self._kinds: dict[type, tuple[str, int]] = {}  # class -> (stored name, version)

    # -- events ---------------------------------------------------------------

    def encode(
        self,
        event: object,
        *,
        event_id: uuid.UUID | None = None,
        occurred_at: datetime | None = None,
        correlation_id: str | None = None,
        causation_id: str | None = None,
        metadata: Metadata | None = None,
    ) -> NewEvent:
        """Encode before anything is appended, so an unstorable event fails alone."""
        try:
            spec = self.registry.for_class(type(event))
        except Exception as e:
            raise EncodeError(type(event).__qualname__, str(e)) from e
        return NewEvent(
            type=spec.name,
            schema_version=spec.version,
            data=encode_json(event),
            event_id=event_id or new_id(),
            occurred_at=occurred_at or utc_now(),
            correlation_id=correlation_id,
            causation_id=causation_id,
            metadata=metadata if metadata is not None else {},
        )

    def new_event(
        self,
        event: object,
        event_id: uuid.UUID,
        occurred_at: datetime,
        correlation_id: str | None,
        causation_id: str | None,
        metadata: Metadata,
    ) -> NewEvent:
        """``encode`` with every envelope field given, positionally: the runtime's
        hot path, once per decided event (the class's name and version are cached)."""
        kind = self._kinds.get(type(event))
        if kind is None:
            try:
                spec = self.registry.for_class(type(event))
            except Exception as e:
                raise EncodeError(type(event).__qualname__, str(e)) from e
            kind = self._kinds[type(event)] = (spec.name, spec.version)
        try:
            data = _encoder.encode(event)
        except _ENCODE_ERRORS as e:
            raise EncodeError(type(event).__qualname__, str(e)) from e
        return NewEvent(
            kind[0], kind[1], data, event_id, occurred_at, correlation_id, causation_id, metadata
        )

    def encode_all(self, events: Sequence[object], **envelope: Any) -> list[NewEvent]:
        return [self.encode(e, **envelope) for e in events]

    def decode(self, stored: StoredEvent) -> Recorded[object]:
        """Decode (and upcast) one stored event; ``schema_version`` stays the stored one."""
        current = self._current.get(stored.type)
        if current is not None and current[1] == stored.schema_version:
            name = current[0]
            try:
                data = current[2].decode(stored.data)
            except msgspec.DecodeError as e:
                raise DecodeError(name, stored.schema_version, stored.position, str(e)) from e
        else:
            spec = self.registry.resolve(stored.type, stored.position)
            data = self.decode_data(spec, stored.schema_version, stored.data, stored.position)
            name = spec.name
            if spec.name == stored.type:
                self._current[name] = (name, spec.version, self._decoder(spec.cls))
        return stored.decoded(data, name)

    def decode_data(
        self, spec: EventType, schema_version: int, data: bytes, position: int | None = None
    ) -> object:
        """The stored bytes as an instance of ``spec.cls``, upcast if they are older."""
        if schema_version == spec.version:
            try:
                return self._decoder(spec.cls).decode(data)
            except msgspec.DecodeError as e:
                raise DecodeError(spec.name, schema_version, position, str(e)) from e
        obj = self.upcast_json(spec, schema_version, data, position)
        try:
            # Through JSON bytes and the typed decoder rather than msgspec.convert:
            # the same rules as a current event (and measured faster).
            return self._decoder(spec.cls).decode(_encoder.encode(obj))
        except _UPCAST_SHAPE_ERRORS as e:
            raise UpcastError(
                spec.name,
                schema_version,
                spec.version,
                position,
                f"the upcast shape does not decode into {spec.cls.__qualname__}: {e}",
            ) from e

    def upcast_json(
        self, spec: EventType, schema_version: int, data: bytes, position: int | None = None
    ) -> dict[str, JSON]:
        """The stored JSON object brought up to the current version, not yet typed."""
        steps = self._steps(spec, schema_version, position)
        try:
            obj = decode_json(data)
        except msgspec.DecodeError as e:
            raise DecodeError(spec.name, schema_version, position, str(e)) from e
        if not isinstance(obj, dict):
            raise DecodeError(spec.name, schema_version, position, "stored data is not an object")
        for step in steps:
            obj = _run_step(step, obj, position)
        return obj

    def _steps(
        self, spec: EventType, schema_version: int, position: int | None
    ) -> tuple[Upcaster, ...]:
        if schema_version > spec.version:
            raise FutureSchemaVersionError(spec.name, schema_version, spec.version, position)
        if schema_version < spec.first_version:
            raise UpcastError(
                spec.name,
                schema_version,
                spec.version,
                position,
                f"v{schema_version} is older than the first readable version v{spec.first_version}",
            )
        steps = self.registry.chain(spec.name, schema_version)
        if len(steps) < spec.version - schema_version:
            missing = schema_version + len(steps)
            raise UpcastError(
                spec.name, missing, missing + 1, position, "no upcaster is registered for it"
            )
        return steps

    def _decoder(self, cls: type) -> msgspec.json.Decoder[Any]:
        decoder = self._decoders.get(cls)
        if decoder is None:
            decoder = self._decoders[cls] = msgspec.json.Decoder(cls)
        return decoder

    # -- states (snapshots) -----------------------------------------------------

    def encode_state(self, state: object) -> bytes:
        """JSON, with big bytes fields in short steps (a worker thread calls this)."""
        return encode_state(state)

    def decode_state(self, data: bytes, cls: type[S]) -> S:
        decoder = self._state_decoders.get(cls)
        if decoder is None:
            decoder = self._state_decoders[cls] = msgspec.json.Decoder(cls)
        try:
            return cast(S, decoder.decode(data))
        except msgspec.DecodeError as e:
            raise DecodeError(cls.__qualname__, 0, None, str(e)) from e


def _run_step(step: Upcaster, obj: dict[str, JSON], position: int | None) -> dict[str, JSON]:
    """One upcaster call; anything it raises or returns wrongly names the step."""
    try:
        result = step.fn(obj)
    except Exception as e:
        raise UpcastError(
            step.name,
            step.from_version,
            step.to_version,
            position,
            f"{step.fn_name} raised {type(e).__name__}: {e}",
        ) from e
    if not isinstance(result, dict):
        raise UpcastError(
            step.name,
            step.from_version,
            step.to_version,
            position,
            f"{step.fn_name} returned {type(result).__name__}, not a JSON object",
        )
    return result
