"""Event ids built without uuid.UUID's constructor are ordinary version-4 UUIDs."""

import pickle
import uuid

from kiroku.runtime.ids import new_event_id


def test_event_ids_are_random_version_4_uuids_like_any_other() -> None:
    ids = [new_event_id() for _ in range(1000)]
    assert len(set(ids)) == 1000
    for value in ids[:50]:
        assert value.version == 4
        assert value.variant == uuid.RFC_4122
        parsed = uuid.UUID(str(value))
        assert parsed == value
        assert hash(parsed) == hash(value)
        assert pickle.loads(pickle.dumps(value)) == value
        assert value.is_safe is uuid.SafeUUID.unknown
