"""JSON encode/decode: orjson when the ``speed`` extra is installed, the stdlib otherwise."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["dumps", "loads"]

try:
    import orjson
except ImportError:  # pragma: no cover - exercised only without the speed extra
    orjson = None  # type: ignore[assignment]


def _std_dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


if orjson is not None:

    def dumps(value: Any) -> bytes:
        """Encode `value` as compact UTF-8 JSON."""
        try:
            result: bytes = orjson.dumps(value)
        except TypeError:
            # orjson refuses some inputs the stdlib accepts (mapping proxies,
            # ints beyond 64 bits); fall back rather than fail the request.
            return _std_dumps(value)
        return result

    def loads(data: bytes) -> Any:
        """Decode UTF-8 JSON bytes."""
        return orjson.loads(data)

else:  # pragma: no cover - exercised only without the speed extra
    dumps = _std_dumps  # type: ignore[unreachable]

    def loads(data: bytes) -> Any:
        """Decode UTF-8 JSON bytes."""
        return json.loads(data)
