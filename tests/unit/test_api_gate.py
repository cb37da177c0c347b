"""The gate's caps: however requests and streams from several users overlap, each
user holds at most its cap, the server at most its stream cap, every refusal is
answered (429 or 503 with ``Retry-After``) and counted, and once the answers end,
failing ones included, nothing is held."""

from __future__ import annotations

import asyncio
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.types import Message, Receive, Scope, Send

from kiroku.api.gate import Gate
from kiroku.api.observe import Metrics
from kiroku.api.server import ServerOptions

Call = tuple[str, bool, bool]  # user, a stream?, the app fails?


def _scope(user: str, stream: bool) -> Scope:
    path = "/stream" if stream else "/post"
    headers = [(b"x-user", user.encode())] if user else []
    return {"type": "http", "method": "GET", "path": path, "headers": headers}


def _user(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-user":
            return str(value.decode())
    return None


class Held:
    """An app that answers 200 once released, or fails, and records what it admitted."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.admitted: Counter[tuple[str | None, bool]] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.admitted[_user(scope), scope["path"].startswith("/stream")] += 1
        await self.release.wait()
        if scope["path"].endswith("!"):
            raise RuntimeError("the app failed")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _call(gate: Gate, user: str, stream: bool, fails: bool) -> tuple[int, bool]:
    scope = _scope(user, stream)
    if fails:
        scope["path"] += "!"
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await gate(scope, receive, send)
    except RuntimeError:
        return 500, False
    start = sent[0]
    retry = any(name == b"retry-after" for name, _ in start["headers"])
    return start["status"], retry


calls = st.lists(
    st.tuples(st.sampled_from(["ann", "bob", ""]), st.booleans(), st.booleans()), max_size=30
)


@settings(max_examples=60, deadline=None)
@given(calls, st.integers(1, 3), st.integers(1, 3), st.integers(1, 5))
def test_caps_hold_under_any_overlap_and_release_everything(
    sequence: list[Call], per_user: int, streams_per_user: int, max_streams: int
) -> None:
    async def scenario() -> None:
        app, metrics = Held(), Metrics()
        options = ServerOptions(
            max_requests_per_user=per_user,
            max_streams_per_user=streams_per_user,
            max_streams=max_streams,
        )
        gate = Gate(
            app, metrics=metrics, routes=[], is_stream=lambda s: s["path"].startswith("/stream"),
            stream_owner=_user, request_owner=_user, options=options,
        )  # fmt: skip
        tasks = [asyncio.create_task(_call(gate, *call)) for call in sequence]
        await asyncio.sleep(0)  # every call is admitted or refused before any ends
        expected: Counter[tuple[str | None, bool]] = Counter()
        open_streams = 0
        for user, stream, _ in sequence:
            who = user or None
            cap = streams_per_user if stream else per_user
            if who is not None and expected[who, stream] >= cap:
                continue
            if stream and open_streams >= max_streams:
                continue
            expected[who, stream] += 1
            open_streams += stream
        assert app.admitted == expected
        assert gate.open_streams == open_streams
        app.release.set()
        answers = await asyncio.gather(*tasks)

        refused = [a for a in answers if a[0] in (429, 503)]
        assert all(retry for _, retry in refused)
        assert len(refused) == len(sequence) - sum(expected.values())
        assert gate.open_streams == 0
        assert not gate.requests.held
        assert not gate.streams.held
        assert sum(metrics.requests.values()) == len(sequence)
        failed = sum(
            1 for (*_, status), n in metrics.requests.items() if status == 500 for _ in range(n)
        )
        assert failed == sum(1 for a in answers if a[0] == 500)

    asyncio.run(scenario())
