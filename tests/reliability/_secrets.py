"""The secret scanner: finds API keys, dashboard tokens and credential values in text.

Used twice: by the autouse fixture in tests/conftest.py (every test of the
suite: captured logs, stdout/stderr and failure reports) and by explicit
scans in tests/reliability/test_secrets.py.

Which secrets: every one the emulators of this process minted or stored
(`stablebrowse_async.testing._state.minted_secrets`) plus the fixed,
recognisable values below (`CANARY_*`), which the reliability tests use as
their API key and credential values.

What counts as a leak (the needles):
- an API key ``sb_live_…``: its first 16 characters are its public prefix
  (shown in listings and in the emulator's request log), so the prefix alone
  is not a leak. Any 12 characters at the start or at the end of the part
  after the prefix are: that catches the whole key, the part after the
  prefix, and any truncation that reveals more than the prefix.
- a dashboard token (a JWT): its header is the same for every token and its
  payload names the business, so the needles are the first and last 12
  characters of the signature.
- anything else (credential values): the whole value.
Values shorter than `MIN_LENGTH` characters are not scanned: short strings
such as ``"tok"`` would match ordinary text.

Reports never hold a secret in full: `mask` keeps at most its public prefix
(for keys) or its first 4 characters, plus its length.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable, Mapping

from stablebrowse_async.testing._state import minted_secrets

__all__ = [
    "CANARY_API_KEY",
    "CANARY_CREDENTIALS",
    "CANARY_DASHBOARD_TOKEN",
    "MIN_LENGTH",
    "Leak",
    "Secret",
    "SecretBook",
    "assert_no_leaks",
    "find_leaks",
    "mask",
    "redact",
]

MIN_LENGTH = 12
KEY_PREFIX = "sb_live_"
PUBLIC_PREFIX_LENGTH = 16
_WINDOW = 12

#: The API key the reliability tests hand to clients pointed at hostile servers.
CANARY_API_KEY = "sb_live_CanaryPfx01" + "LeakCanaryKeySecretPart7f3a9c2e5b8d1"
#: A JWT-shaped dashboard token (header.payload.signature) that no emulator mints.
CANARY_DASHBOARD_TOKEN = (
    "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.CanaryDashboardSignature0q9w8e7r6t5y4u3i"
)
#: One recognisable value per credential field (snake_case names as in the SDK).
CANARY_CREDENTIALS: Mapping[str, str] = {
    "twitter_auth_token": "CANARY-twitter-auth-token-5f1e",
    "twitter_ct0": "CANARY-twitter-ct0-value-8c2a",
    "reddit_session": "CANARY-reddit-session-cookie-3d7b",
    "tiktok_session_id": "CANARY-tiktok-sessionid-9e4f",
    "tiktok_csrf_token": "CANARY-tiktok-csrf-token-1a6c",
    "youtube_sid": "CANARY-youtube-sid-cookie-7b3e",
    "youtube_hsid": "CANARY-youtube-hsid-cookie-2f8d",
    "youtube_ssid": "CANARY-youtube-ssid-cookie-6c1a",
    "youtube_sapisid": "CANARY-youtube-sapisid-4e9b",
    "instagram_session_id": "CANARY-instagram-sessionid-0d5f",
    "instagram_csrf_token": "CANARY-instagram-csrf-8a2e",
    "instagram_ds_user_id": "CANARY-instagram-ds-user-3b7c",
}


@dataclasses.dataclass(frozen=True)
class Secret:
    """One secret and the substrings whose presence in a text is a leak."""

    kind: str
    value: str = dataclasses.field(repr=False)
    needles: tuple[str, ...] = dataclasses.field(repr=False)

    @classmethod
    def of(cls, kind: str, value: str) -> Secret:
        return cls(kind, value, needles_for(value))

    @property
    def masked(self) -> str:
        return mask(self.value)


@dataclasses.dataclass(frozen=True)
class Leak:
    """A secret found in a text: where, which kind, and the secret masked."""

    where: str
    kind: str
    masked: str

    def __str__(self) -> str:
        return f"{self.kind} {self.masked} found in {self.where}"


def _is_jwt(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 3 and all(parts)


def _windows(part: str) -> tuple[str, ...]:
    if len(part) < MIN_LENGTH:
        return ()
    return tuple(dict.fromkeys((part[:_WINDOW], part[-_WINDOW:])))


def needles_for(value: str) -> tuple[str, ...]:
    """The substrings whose presence reveals `value` (empty when it is too short to scan)."""
    if value.startswith(KEY_PREFIX) and len(value) > PUBLIC_PREFIX_LENGTH:
        return _windows(value[PUBLIC_PREFIX_LENGTH:])
    if _is_jwt(value):
        return _windows(value.rsplit(".", 1)[1])
    return (value,) if len(value) >= MIN_LENGTH else ()


def mask(value: str) -> str:
    """`value` with everything secret hidden: the public key prefix or 4 characters, and its length."""
    shown = value[:PUBLIC_PREFIX_LENGTH] if value.startswith(KEY_PREFIX) else value[:4]
    return f"{shown}… ({len(value)} chars)"


def find_leaks(texts: Mapping[str, str], secrets: Iterable[Secret]) -> list[Leak]:
    """Every (text, secret) pair where a needle of the secret occurs in the text.

    `texts` maps a description of where the text came from ("captured log",
    "repr(client)") to the text. One pass over all texts joined, then a look
    at each text only for the needles that hit.
    """
    named = [(where, text) for where, text in texts.items() if text]
    if not named:
        return []
    joined = "\x00".join(text for _, text in named)
    leaks: list[Leak] = []
    for secret in secrets:
        hits = [needle for needle in secret.needles if needle in joined]
        if not hits:
            continue
        for where, text in named:
            if any(needle in text for needle in hits):
                leaks.append(Leak(where, secret.kind, secret.masked))
    return leaks


def redact(text: str, secrets: Iterable[Secret]) -> str:
    """`text` with every secret (whole value and needles) replaced by its mask."""
    for secret in secrets:
        for part in (secret.value, *secret.needles):
            if part in text:
                text = text.replace(part, f"<{secret.kind} {secret.masked}>")
    return text


def assert_no_leaks(texts: Mapping[str, str], secrets: Iterable[Secret]) -> int:
    """Fail (with masked secrets only) if any text holds a secret; return the texts scanned."""
    leaks = find_leaks(texts, secrets)
    assert not leaks, "secrets leaked:\n" + "\n".join(f"  {leak}" for leak in leaks)
    return len(texts)


class SecretBook:
    """The secrets to scan for: the emulators' (read on demand) plus registered ones.

    Thread-safe, cheap to refresh (only secrets minted since the last refresh
    are turned into `Secret` objects).
    """

    def __init__(self) -> None:
        self._secrets: dict[str, Secret] = {}
        self._lock = threading.Lock()
        for value in (CANARY_API_KEY, CANARY_DASHBOARD_TOKEN):
            self.register("canary_" + ("api_key" if value is CANARY_API_KEY else "token"), value)
        for name, value in CANARY_CREDENTIALS.items():
            self.register(f"canary_credential:{name}", value)
        # Counters for the figure book (the autouse scan updates them).
        self.tests_scanned = 0
        self.chars_scanned = 0
        self.hits = 0

    def register(self, kind: str, value: str) -> None:
        """Scan for `value` too, from now on."""
        with self._lock:
            if value not in self._secrets:
                self._secrets[value] = Secret.of(kind, value)

    def current(self) -> list[Secret]:
        """Every known secret that is long enough to scan for."""
        minted = minted_secrets()
        with self._lock:
            for kind, value in minted:
                if value not in self._secrets:
                    self._secrets[value] = Secret.of(kind, value)
            return [secret for secret in self._secrets.values() if secret.needles]


#: The process-wide book (tests/conftest.py and the reliability tests share it).
BOOK = SecretBook()
