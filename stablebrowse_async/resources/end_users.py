"""`client.end_users(id).credentials`: per-end-user platform cookies.

Credential values are secrets: they are sent in the request body only, and
never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, TypedDict

from .._convert import to_camel
from .._http import route
from .._response import RawResponses, raw_method
from ..types import CredentialStatus, check_end_user_id
from ._base import Resource

if TYPE_CHECKING:
    # Annotations only (they are never evaluated at run time), so the core
    # keeps its four runtime dependencies on Python 3.10 too.
    from typing_extensions import Unpack

    from .._client import AsyncClient

__all__ = [
    "CREDENTIAL_FIELDS",
    "CredentialFields",
    "Credentials",
    "CredentialsWithRawResponse",
    "EndUser",
]


class CredentialFields(TypedDict, total=False):
    """The credential keywords of `Credentials.set`: the one list of credential names.

    Each is a cookie value (a secret); give only the ones to change (None
    counts as not given). The wire names are their camelCase (`_convert.to_camel`).
    """

    twitter_auth_token: str | None
    twitter_ct0: str | None
    reddit_session: str | None
    tiktok_session_id: str | None
    tiktok_csrf_token: str | None
    youtube_sid: str | None
    youtube_hsid: str | None
    youtube_ssid: str | None
    youtube_sapisid: str | None
    instagram_session_id: str | None
    instagram_csrf_token: str | None
    instagram_ds_user_id: str | None


#: The credential fields the API accepts, snake_case as in Python.
CREDENTIAL_FIELDS: tuple[str, ...] = tuple(CredentialFields.__annotations__)
_WIRE_NAMES = {name: to_camel(name) for name in CREDENTIAL_FIELDS}
# `delete(fields=...)` accepts either spelling.
_ANY_SPELLING = {**_WIRE_NAMES, **{wire: wire for wire in _WIRE_NAMES.values()}}


class Credentials(Resource):
    """The stored platform credentials of one end user."""

    __slots__ = ("_path", "end_user_id")

    def __init__(self, client: AsyncClient, end_user_id: str) -> None:
        super().__init__(client)
        self.end_user_id = end_user_id
        self._path = route(
            "/end-users/{endUserId}/credentials", end_user_id=check_end_user_id(end_user_id)
        )

    def __repr__(self) -> str:
        return f"Credentials(end_user_id={self.end_user_id!r})"

    async def set(self, **credentials: Unpack[CredentialFields]) -> None:
        """Upsert credentials. Only the fields given change; platforms not named stay as they were.

        The keywords are the `CredentialFields` (None counts as not given).
        Raises `ValueError` when no field is given, `TypeError` for an unknown
        field or a non-string value.
        """
        unknown = [name for name in credentials if name not in _WIRE_NAMES]
        if unknown:
            raise TypeError(
                f"credentials.set() got unknown field(s): {', '.join(sorted(unknown))}; "
                f"valid fields: {', '.join(CREDENTIAL_FIELDS)}"
            )
        given: Mapping[str, object] = credentials
        body: dict[str, str] = {}
        for name, value in given.items():
            if value is None:
                continue
            if not isinstance(value, str):
                # Name the field, never echo the value: it is a secret.
                raise TypeError(f"{name} must be a str, got {type(value).__name__}")
            body[_WIRE_NAMES[name]] = value
        if not body:
            raise ValueError(
                "credentials.set() needs at least one credential; valid fields: "
                + ", ".join(CREDENTIAL_FIELDS)
            )
        await self._transport.request("PUT", self._path, body=body)

    async def get(self) -> CredentialStatus:
        """Which platforms are configured (flags only; the API never returns secrets)."""
        return await self._transport.call("GET", self._path, CredentialStatus)

    async def delete(self, fields: Iterable[str] | None = None) -> None:
        """Clear credentials: the named `fields` only, or every one when `fields` is None.

        Field names may be snake_case (``twitter_auth_token``) or the API's
        camelCase. An empty list raises `ValueError` rather than clearing
        everything by accident.
        """
        body: dict[str, list[str]] | None = None
        if fields is not None:
            if isinstance(fields, str):
                raise TypeError("fields must be a list of field names, not a single string")
            names = list(fields)
            if not names:
                raise ValueError("fields must not be empty; pass fields=None to clear everything")
            unknown = [name for name in names if name not in _ANY_SPELLING]
            if unknown:
                raise ValueError(
                    f"unknown credential field(s): {', '.join(map(str, unknown))}; "
                    f"valid fields: {', '.join(CREDENTIAL_FIELDS)}"
                )
            body = {"fields": list(dict.fromkeys(_ANY_SPELLING[name] for name in names))}
        await self._transport.request("DELETE", self._path, body=body)

    @property
    def with_raw_response(self) -> CredentialsWithRawResponse:
        """These endpoints returning `RawResponse` (status, headers, request id) around the result."""
        return CredentialsWithRawResponse(self)


class CredentialsWithRawResponse(RawResponses[Credentials]):
    """`Credentials`' endpoints, each returning a `RawResponse` around its result."""

    __slots__ = ()

    set = raw_method(Credentials.set)
    get = raw_method(Credentials.get)
    delete = raw_method(Credentials.delete)


class EndUser:
    """A handle on one end user (your own user id): ``client.end_users("alice")``."""

    __slots__ = ("credentials", "end_user_id")

    def __init__(self, client: AsyncClient, end_user_id: str) -> None:
        self.end_user_id = end_user_id
        self.credentials = Credentials(client, end_user_id)

    def __repr__(self) -> str:
        return f"EndUser(end_user_id={self.end_user_id!r})"
