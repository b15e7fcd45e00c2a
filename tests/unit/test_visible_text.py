"""`visible` (core) and the CLI's `safe` helpers: controls are shown, data is kept exact."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stablebrowse_async._text import UNSAFE_CHARACTERS, visible

safe = pytest.importorskip("stablebrowse_async._cli.safe")

_UNSAFE = re.compile(f"[{UNSAFE_CHARACTERS}]")
_any_text = st.text(st.characters() | st.characters(categories=["Cs"]), max_size=60)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_any_text, inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J", "\\x1b[2J"),
        ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
        ("a\rb\x08c\td\ne", "a\\rb\\x08c\\td\\ne"),
        ("\x00\x7f\x9b", "\\x00\\x7f\\x9b"),
        ("\u202eevil\u2066\u200f\u061c", "\\u202eevil\\u2066\\u200f\\u061c"),
        ("line\u2028sep", "line\\u2028sep"),
        ("lone \ud800", "lone \\ud800"),
        ("[bold]é 中 😀 \\x1b[/]", "[bold]é 中 😀 \\x1b[/]"),
    ],
)
def test_visible_writes_each_control_as_an_escape(raw: str, shown: str) -> None:
    assert visible(raw) == shown


@given(_any_text)
def test_visible_leaves_no_control_and_keeps_everything_else(text: str) -> None:
    shown = visible(text)
    assert _UNSAFE.search(shown) is None
    if _UNSAFE.search(text) is None:
        assert shown == text
    assert visible(shown) == shown


def test_visible_keeps_newlines_only_when_asked() -> None:
    assert visible("a\nb\x1b", keep="\n") == "a\nb\\x1b"


@given(_json)
def test_json_text_is_exact_json_without_a_raw_control(data: Any) -> None:
    encoded = safe.json_text(data)
    assert json.loads(encoded) == data
    assert _UNSAFE.search(encoded.replace("\n", "")) is None


def test_text_and_compose_never_read_markup() -> None:
    shown = safe.compose(
        "{label} {value} of {n:.1f}", label=safe.text("[b]ok[/b]", "bold"), value="[/]\x1b", n=2
    )
    assert shown.plain == "[b]ok[/b] [/]\\x1b of 2.0"
    assert safe.text(None).plain == ""
    assert safe.text("a\nb\x07", multiline=True).plain == "a\nb\\x07"
    assert safe.text("a\nb").plain == "a\\nb"
    assert safe.plain("x" * 10, limit=4) == "xxx…"
