"""Path parameters reach the server as exactly one segment, or are refused before any request.

Hypothesis generates ids full of ``/ ? # % .. \\`` , control characters,
whitespace and unicode. For every id, each endpoint that takes one in its
path (tasks.get, sessions.get, the three credential verbs, api_keys.revoke)
either raises `ValueError` naming the argument *before* anything is sent
(the SDK refuses "", "." and ".." everywhere, and blank or over-long end
user ids), or sends a request whose raw path, as the emulator recorded it,
has exactly the route's number of segments, with the id's segment decoding
back to the id.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import example, given
from hypothesis import strategies as st

from stablebrowse_async import AsyncClient, NotFoundError
from stablebrowse_async.testing import Emulator
from stablebrowse_async.types import MAX_END_USER_ID_LENGTH
from tests.reliability.conftest import FigureBook, reproducible

SECTION = "path injection"
EXAMPLES = {"quick": 150, "full": 1500}

_pieces = st.sampled_from(
    [
        "/",
        "?",
        "#",
        "%",
        ".",
        "..",
        "../",
        "\\",
        "%2F",
        "%2e%2e",
        "%00",
        "&x=1",
        ";",
        "+",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\x00",
        "\x7f",
        "é",
        "ü/..",
        "✓",
        "😀",
        "\u202e",
        "\ufeff",
        "api-keys",
        "v1",
    ]
)
_ids = st.lists(_pieces | st.characters(exclude_categories=["Cs"]), max_size=14).map("".join)
_ADVERSARIAL = [
    "",
    ".",
    "..",
    "...",
    " ",
    "\n",
    "../api-keys",
    "../../v1/api-keys",
    "a/b?c#d",
    "100%",
    "%2F",
    "..%2F",
    "a\\..\\b",
    "?limit=1",
    "#frag",
    "x" * MAX_END_USER_ID_LENGTH,
    "x" * (MAX_END_USER_ID_LENGTH + 1),
    "ünïcødé ✓",
]
# An encoded segment holds only unreserved characters and %XX escapes.
_ENCODED_SEGMENT = re.compile(r"(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})+")


def _refusal(value: str, *, end_user: bool = False) -> str | None:
    """Why the SDK refuses `value` before sending, or None when it must send it."""
    if value in {"", ".", ".."}:
        return "empty or dot segment"
    if end_user and not value.strip():
        return "blank end user id"
    if end_user and len(value) > MAX_END_USER_ID_LENGTH:
        return "end user id too long"
    return None


class _Checker:
    def __init__(self, portal: BlockingPortal, emu: Emulator, client: Any, dashboard: Any) -> None:
        self.portal = portal
        self.emu = emu
        self.client = client
        self.dashboard = dashboard
        self.tally: Counter[str] = Counter()

    def expect(
        self,
        name: str,
        argument: str,
        value: str,
        call: Callable[[], Any],
        route: list[str],
        *,
        end_user: bool = False,
        not_found: bool = False,
    ) -> None:
        """Run `call`; check it was refused (ValueError naming `argument`) or sent as one segment.

        `route` is the path after ``/v1`` with ``{}`` where the id goes.
        """
        self.emu.clear_requests()
        reason = _refusal(value, end_user=end_user)
        outcome: Exception | None = None
        try:
            self.portal.call(call)
        except (ValueError, NotFoundError) as error:
            outcome = error
        if isinstance(outcome, ValueError):
            assert reason is not None, f"{name}: {value!r} refused: {outcome}"
            assert argument in str(outcome), f"{name}: the error does not name {argument}"
            assert self.emu.requests == [], f"{name}: refused after sending"
            self.tally[f"refused ({reason})"] += 1
            return
        assert isinstance(outcome, NotFoundError) == not_found, f"{name}: {value!r}: {outcome!r}"
        assert reason is None, f"{name}: {value!r} should have been refused ({reason})"
        assert len(self.emu.requests) == 1, f"{name}: {len(self.emu.requests)} requests"
        raw = self.emu.requests[0].path
        parts = raw.split("/")
        expected = ["", "v1", *route]
        assert len(parts) == len(expected), f"{name}: {value!r} became {raw!r}"
        index = expected.index("{}")
        segment = parts[index]
        assert parts[:index] + parts[index + 1 :] == expected[:index] + expected[index + 1 :]
        assert _ENCODED_SEGMENT.fullmatch(segment), f"{name}: raw characters in {segment!r}"
        assert unquote(segment, errors="strict") == value
        self.tally["segments checked"] += 1


def test_ids_stay_one_path_segment_or_are_refused(
    reliability_size: str, figures: FigureBook
) -> None:
    examples = EXAMPLES[reliability_size]
    ran = 0
    with start_blocking_portal("asyncio") as portal:
        emu = portal.call(Emulator(durations=(0.05, 0.1), seed=21).start)
        client = AsyncClient(emu.api_key, base_url=emu.url, max_retries=0)
        dashboard = AsyncClient(emu.dashboard_token, base_url=emu.url, max_retries=0)
        checker = _Checker(portal, emu, client, dashboard)

        @reproducible(examples)
        @given(value=_ids)
        def check(value: str) -> None:
            nonlocal ran
            ran += 1
            check_one(checker, value)

        for value in _ADVERSARIAL:
            check = example(value=value)(check)
        try:
            check()
        finally:
            portal.call(client.aclose)
            portal.call(dashboard.aclose)
            portal.call(emu.close)
    figures.record(SECTION, "hypothesis examples (incl. explicit ones)", ran)
    for name, count in sorted(checker.tally.items()):
        figures.record(SECTION, name, count)
    assert checker.tally["segments checked"] > 0
    assert ran >= examples


def check_one(checker: _Checker, value: str) -> None:
    client, dashboard = checker.client, checker.dashboard
    checker.expect(
        "tasks.get",
        "task_id",
        value,
        lambda: client.tasks.get(value),
        ["tasks", "{}"],
        not_found=True,
    )
    checker.expect(
        "sessions.get",
        "session_id",
        value,
        lambda: client.sessions.get(value),
        ["sessions", "{}"],
        not_found=True,
    )
    checker.expect(
        "api_keys.revoke",
        "prefix",
        value,
        lambda: dashboard.api_keys.revoke(value),
        ["api-keys", "{}"],
        not_found=True,
    )
    route = ["end-users", "{}", "credentials"]

    def handle() -> Any:
        # Building the handle validates the id; do it where a refusal is caught.
        return client.end_users(value).credentials

    async def set_() -> None:
        await handle().set(reddit_session="path-injection-cookie")

    async def get() -> None:
        status = await handle().get()
        assert status.end_user_id == value  # the server decoded the same id
        assert status.is_configured("reddit")

    async def delete() -> None:
        await handle().delete(fields=["reddit_session"])

    for name, call in (("set", set_), ("get", get), ("delete", delete)):
        checker.expect(f"credentials.{name}", "end_user_id", value, call, route, end_user=True)
