"""Untrusted text made inert: control characters are shown, never obeyed.

Task texts, results, error messages and ids come from end users and from web
pages. Written raw to a terminal or a log, a character such as ESC (``\\x1b``)
starts an escape sequence (clear the screen, set the window title, forge a
hyperlink), ``\\r`` and backspace overwrite what was already printed, a
newline forges a log line, and the bidi controls reorder what the reader
sees. `visible` rewrites each such character as a readable escape
(``\\x1b``, ``\\n``, ``\\u202e``), so the text can be shown but never acts.

The core's logging (`stablebrowse_async._logging`) and the CLI's rendering
(`stablebrowse_async._cli.safe`) both build on this one function.
"""

from __future__ import annotations

import functools
import re

__all__ = ["UNSAFE_CHARACTERS", "visible"]

#: What `visible` rewrites, as a regex character class body: C0 controls, DEL,
#: C1 controls, the bidi formatting characters (ALM, LRM, RLM, LRE..RLO,
#: LRI..PDI), the line and paragraph separators, and lone surrogates (which
#: cannot be encoded to UTF-8 at all).
UNSAFE_CHARACTERS = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff"

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _shown(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _shown_match(match: re.Match[str]) -> str:
    return _shown(match.group(0))


@functools.cache
def _pattern(keep: str) -> re.Pattern[str]:
    body = UNSAFE_CHARACTERS
    if keep:
        # A class that is "unsafe and not kept": (?![kept])[unsafe].
        return re.compile(f"(?![{re.escape(keep)}])[{body}]")
    return re.compile(f"[{body}]")


def visible(text: str, *, keep: str = "") -> str:
    """`text` with every control, bidi and lone-surrogate character written as an escape.

    ``visible("a\\x1b[2Jb")`` is ``"a\\\\x1b[2Jb"``: the bracket stays, the ESC
    becomes the four characters ``\\x1b``. Characters in `keep` (``"\\n"``, for
    multi-line display) are left as they are. Backslashes are not doubled: the result is for reading,
    not for parsing back.
    """
    return _pattern(keep).sub(_shown_match, text)
