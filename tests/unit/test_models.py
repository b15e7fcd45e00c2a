"""The model layer: wire <-> attrs conversion, tolerance, and secrets in reprs."""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import attrs
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from stablebrowse_async import (
    ApiKey,
    CreatedApiKey,
    CredentialStatus,
    SessionSummary,
    SessionTasks,
    StepSummary,
    Task,
    TaskRequest,
    TaskStatus,
    _convert,
)
from stablebrowse_async._convert import (
    STRICT_STRUCTURE,
    converter,
    format_datetime,
    from_wire,
    parse_datetime,
    to_camel,
    to_wire,
)

FULL_RECORD: dict[str, Any] = {
    "taskId": "t_1",
    "sessionId": "s_1",
    "endUserId": "alice",
    "businessId": "b_1",
    "status": "completed",
    "task": "find the news",
    "result": {"answer": 42},
    "structured_content": {"title": "x"},
    "html_dump": "<html></html>",
    "design": {"colors": ["#fff"]},
    "totalSteps": 3,
    "durationMs": 1234,
    "visitedUrls": ["https://example.com"],
    "stepSummaries": [{"n": 1, "type": "navigate", "msg": "opened", "success": True}],
    "error": None,
    "createdAt": "2026-04-21T10:00:00.000Z",
    "updatedAt": "2026-04-21T10:00:01.500Z",
}


def test_task_record_maps_every_field() -> None:
    task = from_wire(FULL_RECORD, Task)
    assert task.task_id == "t_1"
    assert task.status is TaskStatus.COMPLETED
    assert task.is_terminal
    assert task.structured_content == {"title": "x"}
    assert task.html_dump == "<html></html>"
    assert task.total_steps == 3
    assert task.duration_ms == 1234
    assert task.visited_urls == ("https://example.com",)
    assert task.step_summaries[0].type == "navigate"
    assert task.created_at == datetime(2026, 4, 21, 10, 0, tzinfo=timezone.utc)
    assert task.updated_at == datetime(2026, 4, 21, 10, 0, 1, 500000, tzinfo=timezone.utc)
    assert task.extras == {}


def test_round_trip_reproduces_the_wire_record() -> None:
    record = {**FULL_RECORD, "costCents": 7}
    assert to_wire(from_wire(record, Task)) == record
    assert from_wire(record, Task).raw == record


def test_unknown_fields_are_kept_not_rejected() -> None:
    task = from_wire({"taskId": "t", "status": "running", "newThing": [1, 2]}, Task)
    assert task.extras == {"newThing": [1, 2]}
    assert task.raw["newThing"] == [1, 2]


def test_unknown_status_is_kept_and_not_terminal() -> None:
    task = from_wire({"taskId": "t", "status": "paused_by_operator"}, Task)
    assert task.status == "paused_by_operator"
    assert task.status.value == "paused_by_operator"
    assert not task.status.is_known
    assert not task.is_terminal


@pytest.mark.parametrize("status", ["completed", "failed", "cancelled"])
def test_terminal_states(status: str) -> None:
    assert TaskStatus(status).is_terminal
    assert TaskStatus(status).is_known


def test_nulls_in_collections_become_empty() -> None:
    task = from_wire({"taskId": "t", "status": "pending", "visitedUrls": None}, Task)
    assert task.visited_urls == ()


@pytest.mark.parametrize(
    "record",
    [
        {"status": "pending"},
        {"taskId": 5, "status": "pending"},
        {"taskId": "t", "status": 3},
        {"taskId": "t", "status": "pending", "visitedUrls": "x"},
        {"taskId": "t", "status": "pending", "totalSteps": True},
        {"taskId": "t", "status": "pending", "createdAt": "yesterday"},
        {"taskId": "t", "status": "pending", "stepSummaries": [5]},
    ],
)
def test_malformed_records_raise_plain_errors(record: dict[str, Any]) -> None:
    with pytest.raises((TypeError, ValueError, KeyError)):
        from_wire(record, Task)


def test_datetime_parsing_accepts_the_variants_servers_send() -> None:
    expected = datetime(2026, 4, 21, 10, 0, 0, 123000, tzinfo=timezone.utc)
    assert parse_datetime("2026-04-21T10:00:00.123Z") == expected
    assert parse_datetime("2026-04-21T10:00:00.123+00:00") == expected
    assert parse_datetime("2026-04-21T10:00:00.1234567Z").microsecond == 123456
    assert parse_datetime("2026-04-21T10:00:00").tzinfo is timezone.utc
    assert format_datetime(expected) == "2026-04-21T10:00:00.123Z"


def test_other_models() -> None:
    summary = from_wire(
        {"sessionId": "s", "endUserId": "a", "taskCount": 2, "lastStatus": "completed"},
        SessionSummary,
    )
    assert summary.task_count == 2
    assert summary.extras == {"lastStatus": "completed"}
    session = from_wire({"sessionId": "s", "tasks": [FULL_RECORD]}, SessionTasks)
    assert session.tasks[0].task_id == "t_1"
    status = from_wire({"endUserId": "a", "platforms": {"twitter": True}}, CredentialStatus)
    assert status.is_configured("twitter")
    assert not status.is_configured("reddit")
    key = from_wire({"prefix": "sb_live_abcdefgh", "revokedAt": None}, ApiKey)
    assert not key.is_revoked


def test_created_key_secret_is_not_in_repr() -> None:
    created = from_wire(
        {"key": "sb_live_SECRETSECRETSECRET", "prefix": "sb_live_SECRETSE"}, CreatedApiKey
    )
    assert "SECRETSECRETSECRET" not in repr(created)
    assert created.key == "sb_live_SECRETSECRETSECRET"


def test_to_camel() -> None:
    assert to_camel("instagram_ds_user_id") == "instagramDsUserId"
    assert to_camel("task") == "task"


def test_models_are_frozen() -> None:
    task = from_wire(FULL_RECORD, Task)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        task.status = TaskStatus.FAILED  # type: ignore[misc]


# -- TaskRequest validation -----------------------------------------------------


def test_task_request_builds_the_camel_case_body() -> None:
    request = TaskRequest(
        end_user_id="alice",
        task="t",
        session_id="s",
        start_url="https://x",
        schema={"type": "object"},
        max_steps=5,
        include_html_dump=True,
    )
    assert request.to_wire() == {
        "endUserId": "alice",
        "task": "t",
        "sessionId": "s",
        "startUrl": "https://x",
        "schema": {"type": "object"},
        "maxSteps": 5,
        "include_html_dump": True,
    }
    assert TaskRequest(end_user_id="a", task="t").to_wire() == {"endUserId": "a", "task": "t"}


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"end_user_id": "", "task": "t"}, ValueError, "end_user_id"),
        ({"end_user_id": "x" * 257, "task": "t"}, ValueError, "end_user_id"),
        ({"end_user_id": 5, "task": "t"}, TypeError, "end_user_id"),
        ({"end_user_id": "a", "task": "   "}, ValueError, "task"),
        ({"end_user_id": "a", "task": "t", "max_steps": 0}, ValueError, "max_steps"),
        ({"end_user_id": "a", "task": "t", "max_steps": 26}, ValueError, "max_steps"),
        ({"end_user_id": "a", "task": "t", "max_steps": True}, TypeError, "max_steps"),
        ({"end_user_id": "a", "task": "t", "schema": "{}"}, TypeError, "schema"),
        ({"end_user_id": "a", "task": "t", "include_html_dump": 1}, TypeError, "include_html_dump"),
        ({"end_user_id": "a", "task": "t", "session_id": ""}, ValueError, "session_id"),
    ],
)
def test_task_request_rejects_bad_input_naming_the_argument(
    kwargs: dict[str, Any], error: type[Exception], names: str
) -> None:
    with pytest.raises(error, match=names):
        TaskRequest(**kwargs)


def test_end_user_id_of_256_characters_is_accepted() -> None:
    assert TaskRequest(end_user_id="x" * 256, task="t").end_user_id == "x" * 256


def test_coerce_accepts_mappings_and_names_unknown_keys() -> None:
    assert TaskRequest.coerce({"end_user_id": "a", "task": "t"}) == TaskRequest(
        end_user_id="a", task="t"
    )
    request = TaskRequest(end_user_id="a", task="t")
    assert TaskRequest.coerce(request) is request
    with pytest.raises(TypeError, match="endUserId"):
        TaskRequest.coerce({"endUserId": "a", "task": "t"})
    with pytest.raises(TypeError, match="mapping"):
        TaskRequest.coerce(["a"])  # type: ignore[arg-type]


# -- property tests ---------------------------------------------------------------

_json_scalar = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
_json = st.recursive(
    _json_scalar,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
_datetimes = st.datetimes(
    min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.just(timezone.utc)
).map(lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000))


@given(
    task_id=st.text(min_size=1),
    status=st.text(min_size=1),
    result=_json,
    extras=st.dictionaries(
        st.text(min_size=1).filter(lambda k: k not in FULL_RECORD), _json, max_size=4
    ),
    created=_datetimes,
    steps=st.none() | st.integers(min_value=0, max_value=10**9),
    urls=st.lists(st.text(), max_size=5),
)
def test_any_well_formed_record_round_trips(
    task_id: str,
    status: str,
    result: Any,
    extras: dict[str, Any],
    created: datetime,
    steps: int | None,
    urls: list[str],
) -> None:
    record = {
        "taskId": task_id,
        "status": status,
        "result": result,
        "totalSteps": steps,
        "visitedUrls": urls,
        "createdAt": format_datetime(created),
        **extras,
    }
    task = from_wire(record, Task)
    assert task.task_id == task_id
    assert task.status.value == status
    assert task.created_at == created
    assert dict(task.extras) == extras
    wire = to_wire(task)
    for key, value in record.items():
        assert wire[key] == value


@given(_json)
def test_arbitrary_json_never_raises_anything_unexpected(data: Any) -> None:
    for model in (Task, SessionTasks, SessionSummary, CredentialStatus, ApiKey, CreatedApiKey):
        with contextlib.suppress(TypeError, ValueError, KeyError):
            from_wire(data, model)


class _Text(str):
    """A str subclass, as a custom JSON decoder may give."""


#: Each kind of value a step's field may get: null, each JSON type, an integral float, a str subclass.
_step_value = st.sampled_from((None, True, False, 0, 7, 3.0, 2.5, "", "go", _Text("go"), [], {}))
_plain_step = st.fixed_dictionaries(
    {},
    optional={
        "n": st.none() | st.integers(),
        "type": st.none() | st.text(max_size=3),
        "msg": st.none() | st.text(max_size=3),
        "success": st.none() | st.booleans(),
    },
)
#: A plain step with at most one key set to any kind of value (an unknown key too).
_step_record = st.builds(
    lambda plain, change: {**plain, **dict(change)},
    _plain_step,
    st.lists(
        st.tuples(st.sampled_from(("n", "type", "msg", "success", "screenshotId")), _step_value),
        max_size=1,
    ),
)


@given(_step_record | _json)
@example({"n": True})
def test_a_step_built_on_the_exact_path_is_the_one_the_strict_path_builds(data: Any) -> None:
    # `StepSummary` records of plain values skip the strict hook; anything else
    # (a float, a bool for an int, a str subclass, an unknown key, not an
    # object) goes through it. Either way: the same instance, or the same error.
    def outcome(hook: Any) -> Any:
        try:
            step = hook(data, StepSummary)
        except (TypeError, ValueError, KeyError) as error:
            return type(error), str(error)
        return step, dict(step.extras), [type(getattr(step, f)) for f in ("n", "type", "msg")]

    assert outcome(converter.get_structure_hook(StepSummary)) == outcome(
        STRICT_STRUCTURE[StepSummary]
    )


# -- strictness of the direct hooks for optional fields ------------------------

_OPTIONAL_FIELDS: dict[str, tuple[str, Any]] = {
    # wire key: (kind, model) for every `X | None` scalar field with a direct hook
    "sessionId": ("str", Task),
    "endUserId": ("str", Task),
    "task": ("str", Task),
    "html_dump": ("str", Task),
    "error": ("str", Task),
    "totalSteps": ("int", Task),
    "durationMs": ("int", Task),
    "structured_content": ("object", Task),
    "design": ("object", Task),
    "createdAt": ("datetime", Task),
    "n": ("int", StepSummary),
    "msg": ("str", StepSummary),
    "success": ("bool", StepSummary),
}


def _accepted(kind: str, value: Any) -> bool:
    if value is None:
        return True
    if kind == "str":
        return isinstance(value, str)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "int":
        integral_float = isinstance(value, float) and value.is_integer()
        return (isinstance(value, int) and not isinstance(value, bool)) or integral_float
    if kind == "object":
        return isinstance(value, dict)
    return False  # datetime: only strings that parse, covered by the datetime tests


@given(field=st.sampled_from(sorted(_OPTIONAL_FIELDS)), value=_json)
def test_optional_fields_take_null_or_their_type_and_refuse_the_rest(
    field: str, value: Any
) -> None:
    kind, model = _OPTIONAL_FIELDS[field]
    record = {"taskId": "t", "status": "pending", field: value} if model is Task else {field: value}
    if kind == "datetime" and isinstance(value, str):
        return
    if _accepted(kind, value):
        built = from_wire(record, model)
        wire = to_wire(built)
        assert wire[field] == value
        if kind == "int" and value is not None:
            assert type(wire[field]) is int
    else:
        with pytest.raises(TypeError):
            from_wire(record, model)


# -- datetimes: the 3.11 fast path and the normalising path agree -------------

_ANY_OFFSET = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def _iso_variant(moment: datetime, digits: int, suffix: str, pad: str) -> str:
    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{moment.microsecond:06d}{'0' * 3}"[:digits] if digits else ""
    if suffix == "offset":
        offset = moment.strftime("%z")
        suffix = f"{offset[:3]}:{offset[3:]}"
    return f"{pad}{base}{'.' + fraction if fraction else ''}{suffix}{pad}"


@given(
    moment=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2200, 1, 1), timezones=_ANY_OFFSET
    ),
    digits=st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7, 9]),
    suffix=st.sampled_from(["Z", "z", "offset", ""]),
    pad=st.sampled_from(["", " "]),
)
def test_datetime_paths_agree_on_every_variant(
    moment: datetime, digits: int, suffix: str, pad: str
) -> None:
    text = _iso_variant(moment, digits, suffix, pad)
    microsecond = int(f"{moment.microsecond:06d}"[:digits].ljust(6, "0")) if digits else 0
    naive_expected = moment.replace(microsecond=microsecond, tzinfo=None)
    tz = moment.tzinfo if suffix == "offset" else timezone.utc
    expected = naive_expected.replace(tzinfo=tz)
    fast = parse_datetime(text)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_convert, "_FROMISOFORMAT_TAKES_Z", False)
        normalised = parse_datetime(text)
    assert fast == normalised == expected
    assert fast.tzinfo is not None


# -- what a broken answer's error says (it reaches the user inside APIResponseValidationError)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("createdAt", 1745229600, "expected an ISO-8601 string, got int"),
        ("structured_content", [1, 2], "expected a JSON object, got list"),
        ("visitedUrls", "https://example.com", "expected a JSON array, got str"),
        ("visitedUrls", ["https://example.com", 7], "expected an array of strings"),
        ("stepSummaries", {"n": 1}, "expected a JSON array, got dict"),
        ("status", 3, "expected a status string, got int"),
        ("totalSteps", "3", "expected an integer, got str"),
        ("totalSteps", 2.5, "expected an integer, got float"),
    ],
)
def test_a_field_of_the_wrong_type_is_named_with_what_came(
    field: str, value: Any, message: str
) -> None:
    with pytest.raises(TypeError) as info:
        from_wire({"taskId": "t", "status": "running", field: value}, Task)
    assert str(info.value) == message


def test_credential_flags_are_a_read_only_mapping_even_when_null() -> None:
    assert dict(from_wire({"endUserId": "u", "platforms": None}, CredentialStatus).platforms) == {}
    flags = from_wire({"endUserId": "u", "platforms": {"x": 1, "y": 0}}, CredentialStatus).platforms
    assert dict(flags) == {"x": True, "y": False}
    with pytest.raises(TypeError):
        flags["x"] = False  # type: ignore[index]
    with pytest.raises(TypeError) as info:
        from_wire({"endUserId": "u", "platforms": ["x"]}, CredentialStatus)
    assert str(info.value) == "expected a JSON object, got list"


def test_timestamps_go_to_the_wire_in_utc_whatever_the_local_time_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not in the machine's zone: ``astimezone()`` without an argument would use it."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    try:
        paris = timezone(timedelta(hours=2))
        assert format_datetime(datetime(2026, 4, 21, 12, 0, 1, 500000, tzinfo=paris)) == (
            "2026-04-21T10:00:01.500Z"
        )
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-04-21T10:00:00.000z", datetime(2026, 4, 21, 10, tzinfo=timezone.utc)),
        (" 2026-04-21T10:00:00.5Z ", datetime(2026, 4, 21, 10, 0, 0, 500000, tzinfo=timezone.utc)),
        (
            "2026-04-21T10:00:00.1234567z",
            datetime(2026, 4, 21, 10, 0, 0, 123456, tzinfo=timezone.utc),
        ),
        (
            "2026-04-21T12:00:00.25+02:00",
            datetime(2026, 4, 21, 10, 0, 0, 250000, tzinfo=timezone.utc),
        ),
    ],
)
def test_timestamps_the_fast_path_refuses_still_parse(text: str, expected: datetime) -> None:
    """A lowercase ``z``, padding, 7 fraction digits: the normalising path reads them."""
    assert parse_datetime(text) == expected


def test_unknown_fields_are_kept_aside_not_compared_or_shown() -> None:
    """``extras`` holds what a newer server sends: kept, but two records of the same
    task are equal whatever else they carry, and a repr stays readable."""
    plain = from_wire({"n": 1, "type": "navigate"}, StepSummary)
    richer = from_wire({"n": 1, "type": "navigate", "screenshotId": "s_9"}, StepSummary)
    assert richer.extras == {"screenshotId": "s_9"}
    assert plain == richer
    assert "screenshotId" not in repr(richer) and "extras" not in repr(richer)
    # Built by hand, a model needs no extras; they are passed by name only.
    assert StepSummary(n=1).extras == {}
    assert Task(task_id="t", status=TaskStatus.PENDING).extras == {}
    with pytest.raises(TypeError):
        StepSummary(1, "navigate", "opened", True, {"x": 1})


def test_a_schema_given_as_any_mapping_goes_out_as_json() -> None:
    schema = MappingProxyType({"type": "object", "properties": {"title": {"type": "string"}}})
    body = TaskRequest(end_user_id="a", task="t", schema=schema).to_wire()
    assert json.loads(json.dumps(body))["schema"] == dict(schema)


def test_an_integral_float_counts_as_an_integer() -> None:
    """Some JSON encoders write ``3.0``: the field still gets the int 3."""
    task = from_wire({"taskId": "t", "status": "running", "totalSteps": 3.0}, Task)
    assert task.total_steps == 3 and type(task.total_steps) is int


@pytest.mark.parametrize("kind", [int, str, bool])
def test_a_required_scalar_refuses_null(kind: type) -> None:
    """Only the fields typed ``X | None`` take null; the converter's plain scalars do not."""
    with pytest.raises(TypeError):
        from_wire(None, kind)


def test_an_unknown_key_named_extras_is_kept_like_any_other() -> None:
    task = from_wire({"taskId": "t", "status": "running", "extras": {"a": 1}}, Task)
    assert task.extras == {"extras": {"a": 1}}


@pytest.mark.parametrize(("model", "name"), [(Task, "Task"), (StepSummary, "StepSummary")])
def test_a_record_that_is_not_an_object_is_named(model: type, name: str) -> None:
    with pytest.raises(TypeError) as info:
        from_wire(["taskId"], model)
    assert str(info.value) == f"expected a JSON object for {name}, got list"


def test_a_string_field_takes_str_subclasses_and_names_anything_else() -> None:
    """A custom JSON decoder may hand out a str subclass: it is still text."""

    class Text(str):
        pass

    task = from_wire({"taskId": Text("t_1"), "status": "running"}, Task)
    assert task.task_id == "t_1"
    with pytest.raises(TypeError) as info:
        from_wire({"taskId": 7, "status": "running"}, Task)
    assert str(info.value) == "expected a string, got int"


# -- which models get the exact path, and what it takes -------------------------


@attrs.frozen
class _Plain:
    key: str
    label: str | None = None
    count: int | None = None
    flag: bool | None = None


@attrs.frozen
class _Empty:
    pass


def _exact(model: type[Any]) -> tuple[Any, list[Any]]:
    """`model`'s exact-path hook, and the records it handed to the strict hook."""
    handed: list[Any] = []

    def strict(data: Any, tp: Any) -> str:
        handed.append(data)
        return "strict"

    known = frozenset(wire for _, wire in _convert.wire_keys(model))
    return _convert._exact_path(model, known, strict), handed


def test_steps_take_the_exact_path_and_other_models_the_strict_one() -> None:
    assert converter.get_structure_hook(StepSummary) is not STRICT_STRUCTURE[StepSummary]
    for model in (Task, SessionSummary, CredentialStatus, ApiKey, CreatedApiKey):
        assert converter.get_structure_hook(model) is STRICT_STRUCTURE[model]


def test_the_exact_path_builds_only_records_of_exactly_typed_known_keys() -> None:
    hook, handed = _exact(_Plain)
    assert hook({"key": "k", "count": 3, "flag": False}, _Plain) == _Plain("k", None, 3, False)
    assert hook({"key": "k", "label": None}, _Plain) == _Plain("k")
    # A required field missing or null, a wrong type, an unknown key: the strict hook's.
    for record in ({}, {"key": None}, {"key": "k", "count": True}, {"key": "k", "x": 1}, []):
        assert hook(record, _Plain) == "strict"
    assert len(handed) == 5
    empty, _ = _exact(_Empty)
    assert empty({}, _Empty) == _Empty()


def test_models_with_other_fields_get_no_exact_path() -> None:
    @attrs.frozen
    class WithDefault:
        label: str | None = "none"

    @attrs.frozen
    class KeywordOnly:
        label: str | None = attrs.field(default=None, kw_only=True)

    @attrs.frozen
    class Dated:
        at: datetime | None = None

    for model in (WithDefault, KeywordOnly, Dated):
        assert _exact(model)[0] is None


def test_a_step_on_the_strict_path_keeps_its_booleans_and_integers() -> None:
    # An integral float sends the record to the strict hook, which must still
    # take the plain values beside it (the exact path no longer shows them).
    step = from_wire({"n": 3.0, "type": "act", "success": True}, StepSummary)
    assert step == StepSummary(3, "act", None, True)
    assert type(step.n) is int and step.success is True
    assert from_wire({"n": 2, "success": False, "extra": 1}, StepSummary).success is False
