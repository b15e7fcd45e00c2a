"""`PollSettings`: the one owner of poll defaults and of the poll_timeout checks."""

from __future__ import annotations

import pytest

from stablebrowse_async import AdaptiveSchedule, PollSchedule
from stablebrowse_async._polling import DEFAULT_POLL_TIMEOUT, PollSettings


def test_defaults_and_resolve_keep_what_is_not_given() -> None:
    base = PollSettings()
    assert isinstance(base.schedule, AdaptiveSchedule) and base.timeout == DEFAULT_POLL_TIMEOUT
    assert base.resolve() is base
    assert base.resolve(poll_timeout=5).timeout == 5.0
    assert base.resolve(poll_timeout=5).schedule is base.schedule
    quick = base.resolve(poll_interval=2)
    assert quick.schedule == PollSchedule(first=1.0, max_interval=2.0)
    assert quick.timeout == base.timeout
    assert isinstance(PollSettings(timeout=7).timeout, float)


def test_a_client_creates_one_learning_schedule_and_calls_share_it() -> None:
    settings = PollSettings.create(None, 60)
    assert isinstance(settings.schedule, AdaptiveSchedule) and settings.timeout == 60.0
    assert settings.resolve(poll_timeout=5).schedule is settings.schedule
    fixed = PollSchedule(first=0.5)
    assert PollSettings.create(fixed, 60).schedule is fixed
    assert PollSettings.create(3, 60).schedule == PollSchedule(first=1.0, max_interval=3.0)


@pytest.mark.parametrize(
    ("value", "error"), [(True, TypeError), ("9", TypeError), (0, ValueError), (-1, ValueError)]
)
def test_bad_poll_timeout_is_refused_naming_it(value: object, error: type[Exception]) -> None:
    with pytest.raises(error, match="poll_timeout"):
        PollSettings().resolve(poll_timeout=value)  # type: ignore[arg-type]
    with pytest.raises(error, match="poll_timeout"):
        PollSettings(timeout=value)


def test_bad_poll_interval_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match="poll_interval"):
        PollSettings().resolve(poll_interval=0)
