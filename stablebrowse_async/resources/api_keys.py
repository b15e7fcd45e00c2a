"""`client.api_keys`: mint, list and revoke API keys (dashboard tokens only)."""

from __future__ import annotations

from .._http import route
from .._response import RawResponses, raw_method
from ..types import ApiKey, CreatedApiKey
from ._base import Resource


class ApiKeys(Resource):
    """Manage the business's API keys. Calling these with an API key gives `AuthenticationError`."""

    __slots__ = ()

    async def create(self, *, label: str | None = None) -> CreatedApiKey:
        """Mint a key. The full secret is on the result's `key`, and only there, only now.

        The POST is never retried after it was sent: a lost answer raises
        `AmbiguousRequestError` (list the keys to see whether it was minted).
        """
        if label is not None and not isinstance(label, str):
            raise TypeError(f"label must be a str, got {type(label).__name__}")
        body = {} if label is None else {"label": label}
        return await self._transport.call("POST", "/api-keys", CreatedApiKey, body=body)

    async def list(self) -> list[ApiKey]:
        """All keys of the business, revoked ones included (see `ApiKey.is_revoked`)."""
        return await self._transport.call("GET", "/api-keys", ApiKey, envelope="keys")

    async def revoke(self, prefix: str) -> None:
        """Revoke the key with this prefix, at once and for good (it then gets 403 everywhere)."""
        await self._transport.request("DELETE", route("/api-keys/{prefix}", prefix=prefix))

    @property
    def with_raw_response(self) -> ApiKeysWithRawResponse:
        """These endpoints returning `RawResponse` (status, headers, request id) around the result."""
        return ApiKeysWithRawResponse(self)


class ApiKeysWithRawResponse(RawResponses[ApiKeys]):
    """`ApiKeys`' endpoints, each returning a `RawResponse` around its result."""

    __slots__ = ()

    create = raw_method(ApiKeys.create)
    list = raw_method(ApiKeys.list)
    revoke = raw_method(ApiKeys.revoke)
