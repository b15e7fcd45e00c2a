"""Untrusted text on its way to the terminal: the CLI's one owner of escaping.

Task texts, results, errors, step messages, URLs, ids and labels come from
end users and from arbitrary web pages. None of it may be read as rich
markup (``[/]`` would crash the print, ``[link=file:///...]`` would become a
live hyperlink) or reach the terminal as a control character (``\\x1b[2J``
clears the screen, ``\\r`` overwrites a line, U+202E reverses it). So data
reaches rich only as a `rich.text.Text` built here, and plain output only as
text passed through `plain` or `json_text`:

- `text`: a value as a `Text` (never parsed as markup), controls shown as
  ``\\x1b``-style escapes (`stablebrowse_async._text.visible`);
- `compose`: a trusted template with untrusted values, as one `Text`;
- `plain`: a value as a one-line str for output that bypasses rich;
- `json_text`: exact JSON whose strings cannot drive a terminal either.

Everything that renders (`stablebrowse_async._cli.render`, ``scripts/demo.py``)
goes through these; nothing else escapes.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

from rich.text import Text

from .._text import UNSAFE_CHARACTERS, visible

__all__ = ["compose", "json_text", "plain", "text"]

_FORMATTER = string.Formatter()

# json.dumps already escapes C0 controls inside strings; these are the other
# unsafe characters, which it writes raw even with ensure_ascii=False.
_JSON_UNSAFE = re.compile("[" + UNSAFE_CHARACTERS.replace("\x00-\x1f", "") + "]")


def _cut(value: str, limit: int | None) -> str:
    if limit is None or len(value) <= limit:
        return value
    return value[: max(limit - 1, 0)] + "…"


def plain(value: object, *, limit: int | None = None) -> str:
    """`value` as one line of plain text, every control (newlines too) shown as an escape.

    For one-line fields and messages, and for output written without rich.
    `limit` cuts the text (before escaping) to that many characters.
    """
    return visible(_cut(str(value), limit))


def text(
    value: object, style: str = "", *, multiline: bool = False, limit: int | None = None
) -> Text:
    """`value` as a rich `Text`: never markup, every control character shown as an escape.

    None is the empty text. With `multiline`, newlines are kept (for
    results and task texts shown in a panel); otherwise the value is one
    line, as `plain` makes it. `style` is the caller's own (trusted)
    style; `limit` cuts the value to that many characters first.
    """
    if value is None:
        return Text("", style=style)
    if multiline:
        return Text(visible(_cut(str(value), limit), keep="\n"), style=style)
    return Text(plain(value, limit=limit), style=style)


def compose(template: str, /, style: str = "", **values: object) -> Text:
    """A trusted `template` (``str.format`` fields, no markup) filled with untrusted `values`.

    ``compose("cleared {what} for {user}", what=..., user=...)``: the
    template's own text is taken literally, each value goes through `text`
    (one line), and a value that already is a `Text` (built by `text`, or
    styled by the caller from trusted parts) is kept as it is.
    """
    parts = Text(style=style)
    for literal, field, spec, _conversion in _FORMATTER.parse(template):
        parts.append(literal)
        if field is None:
            continue
        value = values[field]
        if isinstance(value, Text):
            parts.append_text(value)
        else:
            parts.append_text(text(format(value, spec or "")))
    return parts


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group(0)):04x}"


def json_text(data: Any, *, indent: int | None = 2) -> str:
    """`data` as JSON that parses back to exactly `data` and holds no raw control character.

    C0 controls are escaped by the encoder itself; DEL, C1 controls, bidi
    controls, line separators and lone surrogates (which would also make
    the UTF-8 output fail) are written as ``\\uXXXX`` escapes, which JSON
    reads back as the same characters. Other non-ASCII text stays readable.
    """
    encoded = json.dumps(data, indent=indent, ensure_ascii=False, default=str)
    return _JSON_UNSAFE.sub(_json_escape, encoded)
