"""Task-duration distributions and the true server-side task times."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stablebrowse_async.testing import Durations, Emulator, EmulatorThread, VirtualClock
from stablebrowse_async.testing._clock import iso
from stablebrowse_async.testing._console import build_parser, serve

BIMODAL = "2*uniform:1.5,2.5+1*uniform:25,35"


def draws(durations: Durations, n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [durations.sample(rng) for _ in range(n)]


def test_uniform_lognormal_and_bimodal_have_their_shapes() -> None:
    uniform = draws(Durations.parse("uniform:1,3"), 4000)
    assert min(uniform) >= 1
    assert max(uniform) <= 3
    assert statistics.mean(uniform) == pytest.approx(2, abs=0.05)
    lognormal = draws(Durations.lognormal(20, 0.3), 4000)
    assert statistics.median(lognormal) == pytest.approx(20, rel=0.03)
    assert statistics.stdev(lognormal) == pytest.approx(20 * 0.3, rel=0.15)
    bimodal = draws(Durations.parse(BIMODAL), 6000)
    short = [d for d in bimodal if d <= 2.5]
    long = [d for d in bimodal if d >= 25]
    assert len(short) + len(long) == len(bimodal)  # nothing between the modes
    assert len(short) / len(bimodal) == pytest.approx(2 / 3, abs=0.025)
    assert min(short) >= 1.5
    assert max(long) <= 35


def test_mixture_in_python_equals_the_spec() -> None:
    built = Durations.mixture((2, Durations.uniform(1.5, 2.5)), (1, Durations.uniform(25, 35)))
    assert built == Durations.parse(BIMODAL)
    assert str(built) == BIMODAL
    nested = Durations.mixture((1, built), (1, Durations.lognormal(5, 0)))
    assert draws(nested, 5) == draws(Durations.parse(str(nested)), 5)
    assert set(draws(Durations.lognormal(5, 0), 3)) == {5.0}
    assert Durations.of((1, 2)) == Durations.of([1, 2]) == Durations.uniform(1, 2)
    assert Durations.of(built) is built
    assert Durations.of("lognormal:20,0.3") == Durations.lognormal(20, 0.3)


parts = st.one_of(
    st.tuples(st.floats(0, 1e6), st.floats(0, 1e6)).map(lambda t: Durations.uniform(*sorted(t))),
    st.tuples(st.floats(1e-3, 1e6), st.floats(0, 5)).map(lambda t: Durations.lognormal(*t)),
)


@given(st.lists(st.tuples(st.floats(1e-3, 1e3), parts), min_size=1, max_size=4), st.integers())
def test_specs_round_trip_and_draws_are_reproducible_and_in_range(
    weighted: list[tuple[float, Durations]], seed: int
) -> None:
    durations = Durations.mixture(*weighted)
    assert Durations.parse(str(durations)) == durations
    sample = draws(durations, 20, seed)
    assert sample == draws(durations, 20, seed)
    assert all(d >= 0 for d in sample)
    if all(p.kind == "uniform" for p in durations.parts):
        low = min(p.a for p in durations.parts)
        high = max(p.b for p in durations.parts)
        assert all(low <= d <= high for d in sample)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "cannot read ''"),
        ("uniform:1", "uniform takes two numbers"),
        ("gamma:1,2", "unknown distribution 'gamma'"),
        ("uniform:3,1", "uniform needs 0 <= low <= high"),
        ("uniform:-1,1", "uniform needs 0 <= low <= high"),
        ("lognormal:0,1", "lognormal needs median > 0"),
        ("lognormal:1,-1", "sigma >= 0"),
        ("x*uniform:1,2", "bad number in 'x*uniform:1,2'"),
        ("0*uniform:1,2+uniform:1,2", "mixture weights must be > 0"),
        ("uniform:1,inf", "uniform high must be finite"),
    ],
)
def test_bad_specs_name_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match="durations") as error:
        Durations.parse(spec)
    assert message in str(error.value)


def test_bad_python_values_are_refused() -> None:
    with pytest.raises(ValueError, match="mixture needs at least one"):
        Durations.mixture()
    with pytest.raises(ValueError, match="uniform low must be a number"):
        Durations.uniform("1", 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="durations must be"):
        Durations.of((1, 2, 3))
    with pytest.raises(ValueError, match="uniform needs"):
        Emulator(durations=(2.0, 1.0))
    with pytest.raises(ValueError, match="unknown distribution"):
        Emulator(durations="poisson:3,1")


async def test_emulator_draws_from_its_distribution_and_directives_win(
    anyio_backend: object,
) -> None:
    clock = VirtualClock()
    async with Emulator(clock=clock, durations="lognormal:20,0.3", seed=7, pending_for=1) as emu:
        assert str(emu.durations) == "lognormal:20,0.3"
        ids = [str(emu.create_task(f"t{i}")["taskId"]) for i in range(200)]
        fixed = str(emu.create_task("quick [[duration=2.5]]")["taskId"])
        durations = [emu.task_times(i).duration for i in ids]
        assert statistics.median(durations) == pytest.approx(20, rel=0.1)
        assert emu.task_times(fixed).duration == 2.5
        times = emu.all_task_times()
        assert [t.task_id for t in times] == [*ids, fixed]
        again = Emulator(clock=VirtualClock(), durations="lognormal:20,0.3", seed=7)
        assert [
            again.task_times(str(again.create_task(f"t{i}")["taskId"])).duration for i in range(200)
        ] == durations


async def test_task_times_are_the_true_completion_the_record_shows(anyio_backend: object) -> None:
    clock = VirtualClock(1_800_000_000.25)
    async with Emulator(clock=clock, durations="uniform:1,3", pending_for=0.5, seed=3) as emu:
        task_id = str(emu.create_task("x")["taskId"])
        times = emu.task_times(task_id)
        assert times.created_at == 1_800_000_000.25
        assert times.started_at == times.created_at + 0.5
        assert 1 <= times.duration <= 3
        clock.set(times.finished_at - 1e-6)
        assert emu.task_record(task_id)["status"] == "running"
        clock.set(times.finished_at)
        record = emu.task_record(task_id)
        assert record["status"] == "completed"
        assert record["durationMs"] == round(times.duration * 1000)
        assert record["updatedAt"] == iso(times.finished_at)
    with pytest.raises(KeyError):
        emu.task_times("unknown")


def test_emulator_thread_takes_durations_and_reports_task_times() -> None:
    with EmulatorThread(durations=Durations.uniform(0.2, 0.2), clock=VirtualClock()) as emu:
        task_id = str(emu.create_task("x")["taskId"])
        assert emu.task_times(task_id).duration == 0.2
        assert [t.task_id for t in emu.all_task_times()] == [task_id]
    with EmulatorThread(durations="uniform:4,4", clock=VirtualClock()) as emu:
        assert emu.task_times(str(emu.create_task("y")["taskId"])).duration == 4


def test_console_durations_flag() -> None:
    args = build_parser().parse_args(["--durations", BIMODAL])
    assert args.durations == Durations.parse(BIMODAL)
    assert build_parser().parse_args([]).durations is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--durations", "lognormal:20"], "lognormal takes two numbers"),
        (["--durations", "uniform:1,2", "--min-duration", "1"], "--durations replaces"),
        (["--max-duration", "nan"], "--min-duration <= --max-duration"),
    ],
)
def test_console_durations_errors_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        serve(argv)
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
