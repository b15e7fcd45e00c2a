"""The one cattrs converter: wire JSON <-> attrs models.

- camelCase on the wire, snake_case in Python (a field's ``wire`` metadata
  overrides the rule for the API's few snake_case keys such as ``html_dump``);
- ISO-8601 datetimes, ``Z`` or an offset, always timezone-aware in Python;
- unknown keys kept in each model's ``extras``;
- unknown task states kept (see `TaskStatus`);
- strict scalars: a string field never silently turns a number or a dict into
  text, so a broken server answer fails loudly in one place (`from_wire`).

Structure and unstructure functions are generated once, at import, with
`cattrs.gen`, which is what keeps the per-response cost low.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from .types import (
    ApiKey,
    CreatedApiKey,
    CredentialStatus,
    SessionSummary,
    SessionTasks,
    StepSummary,
    Task,
    TaskStatus,
)

__all__ = ["converter", "from_wire", "parse_datetime", "to_camel", "to_wire", "wire_keys"]

T = TypeVar("T")
_FROMISOFORMAT_TAKES_Z = sys.version_info >= (3, 11)
MODELS: tuple[type[Any], ...] = (
    StepSummary,
    Task,
    SessionSummary,
    SessionTasks,
    CredentialStatus,
    ApiKey,
    CreatedApiKey,
)

converter = cattrs.Converter(detailed_validation=False, forbid_extra_keys=False)


def to_camel(name: str) -> str:
    """``total_steps`` -> ``totalSteps``."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_FRACTION = re.compile(r"\.(\d+)")


def parse_datetime(value: object) -> datetime:
    """Parse an ISO-8601 timestamp (``Z`` accepted, any fraction length) into an aware datetime."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO-8601 string, got {type(value).__name__}")
    if _FROMISOFORMAT_TAKES_Z:
        # Python 3.11+ reads the API's own format (``Z``, 3 digits) directly;
        # anything it refuses still gets the normalising path below.
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    # Python 3.10's fromisoformat takes only 3 or 6 fractional digits.
    text = _FRACTION.sub(lambda m: "." + (m.group(1) + "000000")[:6], text, count=1)
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def format_datetime(value: datetime) -> str:
    """Format like the API: ``2026-04-21T10:00:00.000Z``."""
    utc = value.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _strict(kind: type[Any], label: str, *, nullable: bool = False) -> Callable[[Any, Any], Any]:
    """A hook that passes `kind` through untouched and refuses anything else (None too,
    unless `nullable`): a string field never turns a number into text."""

    def structure(value: Any, _: Any) -> Any:
        if type(value) is kind or (nullable and value is None):
            return value
        if isinstance(value, kind) and not isinstance(value, bool):
            return value  # a subclass, such as a str subclass from a custom JSON decoder
        raise TypeError(f"expected {label}, got {type(value).__name__}")

    return structure


def _integer(*, nullable: bool = False) -> Callable[[Any, Any], int | None]:
    """A hook for integers: ints pass, integral floats (``3.0``) become ints, bools are refused."""

    def structure(value: Any, _: Any) -> int | None:
        if type(value) is int or (nullable and value is None):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError(f"expected an integer, got {type(value).__name__}")

    return structure


def _structure_json_object(value: Any, _: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    raise TypeError(f"expected a JSON object, got {type(value).__name__}")


def _structure_flags(value: Any, _: Any) -> Mapping[str, bool]:
    if value is None:
        return MappingProxyType({})
    if not isinstance(value, dict):
        raise TypeError(f"expected a JSON object, got {type(value).__name__}")
    return MappingProxyType({str(k): bool(v) for k, v in value.items()})


def _structure_str_tuple(value: Any, _: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise TypeError(f"expected a JSON array, got {type(value).__name__}")
    if not all(isinstance(item, str) for item in value):
        raise TypeError("expected an array of strings")
    return tuple(value)


def _tuple_of(model: type[T]) -> Callable[[Any, Any], tuple[T, ...]]:
    def structure(value: Any, _: Any) -> tuple[T, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise TypeError(f"expected a JSON array, got {type(value).__name__}")
        # Looked up per call, not per item: the model's hook is registered after this one.
        item_hook = converter.get_structure_hook(model)
        return tuple([item_hook(item, model) for item in value])

    return structure


def _optional(hook: Callable[[Any, Any], T]) -> Callable[[Any, Any], T | None]:
    """``X | None`` straight to X's hook: cattrs' generic Optional handler re-dispatches per call."""

    def structure(value: Any, tp: Any) -> T | None:
        return None if value is None else hook(value, tp)

    return structure


def _structure_status(value: Any, _: Any) -> TaskStatus:
    if not isinstance(value, str):
        raise TypeError(f"expected a status string, got {type(value).__name__}")
    return TaskStatus(value)


def _register_exact(tp: Any, hook: Callable[[Any, Any], Any]) -> None:
    """Register a structure hook for one parametrised generic (not a class, so no dispatch)."""
    converter.register_structure_hook_func(lambda candidate: candidate == tp, hook)


_SCALAR_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {
    str: _strict(str, "a string"),
    bool: _strict(bool, "a boolean"),
    int: _integer(),
    datetime: lambda v, _: parse_datetime(v),
    dict[str, Any]: _structure_json_object,
}
_NULLABLE_HOOKS: dict[Any, Callable[[Any, Any], Any]] = {
    str: _strict(str, "a string", nullable=True),
    bool: _strict(bool, "a boolean", nullable=True),
    int: _integer(nullable=True),
}
for _tp, _hook in _SCALAR_HOOKS.items():
    if isinstance(_tp, type):
        converter.register_structure_hook(_tp, _hook)
    else:
        _register_exact(_tp, _hook)
    _register_exact(_tp | None, _NULLABLE_HOOKS.get(_tp) or _optional(_hook))
converter.register_structure_hook(TaskStatus, _structure_status)
_register_exact(Mapping[str, bool], _structure_flags)
_register_exact(tuple[str, ...], _structure_str_tuple)
_register_exact(tuple[StepSummary, ...], _tuple_of(StepSummary))
_register_exact(tuple[Task, ...], _tuple_of(Task))

converter.register_unstructure_hook(datetime, format_datetime)
converter.register_unstructure_hook(TaskStatus, lambda status: status.value)
converter.register_unstructure_hook_func(lambda tp: tp == Mapping[str, bool], dict)
# Free-form JSON (`result`, `structured_content`, `design`) goes back to the wire
# as it came: already plain JSON values, so walking them would only cost time
# and, for deeply nested answers, blow the stack (cattrs recurses per level).
_JSON_VALUE_TYPES = (Any, dict[str, Any], dict[str, Any] | None)
converter.register_unstructure_hook_func(
    lambda tp: any(tp is kind or tp == kind for kind in _JSON_VALUE_TYPES), lambda value: value
)


def _wire_key(field: attrs.Attribute[Any]) -> str:
    return str(field.metadata.get("wire", to_camel(field.name)))


_WIRE_KEYS: dict[type[Any], tuple[tuple[str, str], ...]] = {}


def wire_keys(model: type[Any]) -> tuple[tuple[str, str], ...]:
    """``(attribute, wire key)`` for every field of an attrs `model`, in field order (cached)."""
    keys = _WIRE_KEYS.get(model)
    if keys is None:
        keys = _WIRE_KEYS[model] = tuple(
            (f.name, _wire_key(f)) for f in attrs.fields(model) if f.name != "extras"
        )
    return keys


#: Field types whose JSON value is exactly one Python type, so that the check
#: is ``type(value) is kind`` (a bool is not an int here, as in `_integer`).
_EXACT_KINDS: dict[Any, tuple[type[Any], bool]] = {
    **{kind: (kind, False) for kind in (str, int, bool)},
    **{kind | None: (kind, True) for kind in (str, int, bool)},
}


def _exact_path(
    model: type[Any], known: frozenset[str], slow: Callable[[Any, Any], Any]
) -> Callable[[Any, Any], Any] | None:
    """A structure hook for a model whose fields are all plain strings, integers or
    booleans (`StepSummary`), or None for any other model.

    A record holding only known keys, each of exactly its field's type (or
    null where the field allows it and defaults to None), is built straight
    from them; anything else goes to `slow`, the one strict path, which
    builds the same instance or raises. A task record carries a few dozen
    steps, and this takes about half of what each one cost.
    """
    fields = [f for f in attrs.fields(attrs.resolve_types(model)) if f.name != "extras"]
    checks = []
    for position, field in enumerate(fields):
        exact = _EXACT_KINDS.get(field.type)
        if exact is None or field.kw_only:
            return None
        kind, nullable = exact
        if nullable and field.default is not None:
            return None
        check = f"type(v{position}) is {kind.__name__}"
        checks.append(f"(v{position} is None or {check})" if nullable else check)
    names = ", ".join(f"v{position}" for position in range(len(fields)))
    gets = "".join(
        f"        v{position} = get({_wire_key(field)!r})\n"
        for position, field in enumerate(fields)
    )
    source = (
        "def structure(data, tp):\n"
        "    if type(data) is dict and known.issuperset(data):\n"
        "        get = data.get\n"
        f"{gets}"
        f"        if {' and '.join(checks) or 'True'}:\n"
        f"            return model({names})\n"
        "    return slow(data, tp)\n"
    )
    namespace: dict[str, Any] = {"known": known, "model": model, "slow": slow}
    exec(compile(source, f"<stablebrowse exact structure {model.__name__}>", "exec"), namespace)
    hook: Callable[[Any, Any], Any] = namespace["structure"]
    return hook


#: Each model's strict structure hook (what `_exact_path` falls back to).
STRICT_STRUCTURE: dict[type[Any], Callable[[Any, Any], Any]] = {}


def _register(model: type[Any]) -> None:
    fields = attrs.fields(model)
    overrides = {
        f.name: override(omit=True) if f.name == "extras" else override(rename=_wire_key(f))
        for f in fields
    }
    known = frozenset(_wire_key(f) for f in fields if f.name != "extras")
    structure_known = make_dict_structure_fn(model, converter, **overrides)  # type: ignore[arg-type]
    unstructure_known = make_dict_unstructure_fn(model, converter, **overrides)  # type: ignore[arg-type]

    def structure(data: Any, _: Any) -> Any:
        if not isinstance(data, dict):
            raise TypeError(
                f"expected a JSON object for {model.__name__}, got {type(data).__name__}"
            )
        instance = structure_known(data, model)
        if len(data) > len(known) or not known.issuperset(data):
            extras = {key: value for key, value in data.items() if key not in known}
            if extras:
                # The generated function cannot fill `extras`; the instance is
                # brand new and not yet shared, so setting it here is safe.
                object.__setattr__(instance, "extras", MappingProxyType(extras))
        return instance

    def unstructure(instance: Any) -> dict[str, Any]:
        wire = unstructure_known(instance)
        wire.update(instance.extras)
        return wire

    STRICT_STRUCTURE[model] = structure
    converter.register_structure_hook(model, _exact_path(model, known, structure) or structure)
    converter.register_unstructure_hook(model, unstructure)


for _model in MODELS:
    _register(_model)


def from_wire(data: Any, model: type[T]) -> T:
    """Structure decoded JSON into `model`. Raises TypeError/ValueError/KeyError on bad data."""
    return converter.structure(data, model)


def to_wire(instance: Any) -> dict[str, Any]:
    """Unstructure a model back to its wire mapping (camelCase, unknown fields included)."""
    result: dict[str, Any] = converter.unstructure(instance)
    return result
