"""Mutation testing of the core modules with mutmut, and a score per module.

    python scripts/mutation.py                      # every core module (make mutation)
    python scripts/mutation.py _convert types       # some of them
    python scripts/mutation.py --report-only        # score the last run again

mutmut copies the package, makes many small changes to the code (a flipped
comparison, a changed constant, a deleted argument...) and runs, for each, the
tests of a selection that executed the changed function. A mutant is *killed*
when a test fails (or hangs past the timeout); one that *survived* is a change
no test noticed. The modules are mutated in groups (``GROUPS``), one mutmut run
per group, each with its own test selection: the tests that exercise those
modules directly, so that a mutant of the schedule does not wait for the
transport's tests. Each group runs in its own directory, ``mutants/GROUP/``
(a ``pyproject.toml`` written there from this checkout's, with the group's
``only_mutate`` and ``pytest_add_cli_args_test_selection`` in ``[tool.mutmut]``,
and copies of the package and the tests); mutmut keeps its copy and results in
``mutants/GROUP/mutants/``. Every run starts that copy afresh: mutmut (3.8)
keeps the verdict of every mutant whose function did not change, even when
the tests did (a weakened test would leave a stale "killed", a new one an
old "survived"), so each run tests every mutant of the modules named again,
against the tests as they are. Results stay for ``--report-only`` and for
``cd mutants/GROUP && ../../.venv/bin/mutmut show NAME``.

mutmut switches mutants at call time in processes forked after the package
was imported, so code that runs only at import time (the converter's hook
factories in ``_convert``, attrs field factories in ``types``) would never be
mutated there; and code that runs only in a child after ``os.fork()`` is never
mapped to a test. For the modules listed in ``FRESH_SELECTION`` (only the
functions of ``FRESH_FUNCTIONS`` where it names some), every mutant the
forked run did not kill is therefore tested again in a *fresh* interpreter:
``MUTANT_UNDER_TEST`` is set before Python starts, so the import itself builds
the mutated hooks, and the module's test selection runs against them. That
verdict replaces the forked one (column ``fresh`` of the table); results are
cached in ``mutants/GROUP/fresh-results.json`` by the mutant's change and the code
and tests it ran against.

The score of a module is ``killed / (mutants - equivalent)``. Equivalent mutants
cannot change behaviour (``x >= 0`` and ``x > 0`` where ``x`` is never 0...);
each is listed once, with the reason, in ``scripts/mutation_equivalents.json``,
together with its mutated line, so an entry that no longer matches the code is
reported as stale instead of silently excluding a new mutant.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "stablebrowse_async"
WORK = ROOT / "mutants"
#: One mutmut run per group: the modules it mutates, and the tests it maps to
#: their functions (each mutant runs those of them that executed its function).
GROUPS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "retry": (
        ("_retry", "errors"),
        (
            "tests/unit/test_retry.py",
            "tests/unit/test_poll_backoff.py",
            "tests/unit/test_value_details.py",
            "tests/client/test_retry_after_values.py",
            "tests/client/test_error_attributes.py",
            "tests/client/test_errors_and_retries.py",
            "tests/client/test_error_chains.py",
            "tests/client/test_rate_gate.py",
            "tests/client/test_pipeline.py",
        ),
    ),
    "models": (
        ("_convert", "types"),
        (
            "tests/unit/test_models.py",
            "tests/unit/test_request_coercion.py",
            "tests/unit/test_documented_defaults.py",
            "tests/unit/test_value_details.py",
            "tests/client/test_endpoints.py",
        ),
    ),
    "schedule": (
        ("_schedule", "_estimator", "_plan"),
        (
            "tests/unit/test_plan.py",
            "tests/unit/test_lag_rule.py",
            "tests/unit/test_schedule.py",
            "tests/unit/test_schedule_mutation_gaps.py",
            "tests/unit/test_estimator_mutation_gaps.py",
            "tests/unit/test_estimator_refresh.py",
            "tests/unit/test_estimator_exposure.py",
            "tests/unit/test_mode_end.py",
            "tests/unit/test_poll_settings.py",
            "tests/unit/test_documented_defaults.py",
            "tests/polling/test_adaptive.py",
        ),
    ),
    "http": (("_http",), ("tests/client",)),
    "polling": (
        ("_polling",),
        (
            "tests/polling",
            "tests/watch/test_on_update.py",
            # 1000 tasks (4 s, 10 s on a busy machine: past pytest's --timeout); the
            # other run_many tests run the same engine functions on fewer tasks.
            "--deselect",
            "tests/watch/test_on_update.py::test_run_many_1000_tasks_every_step_once_in_order",
            "tests/client/test_tracing.py",
            "tests/unit/test_fanout_engine.py",
            "tests/unit/test_fanout_replan.py",
            "tests/unit/test_fanout_ranking.py",
            "tests/unit/test_fanout_lifecycle.py",
            "tests/unit/test_poll_settings.py",
        ),
    ),
}
#: Groups run at the same time, one lane each; the groups of a lane one after the
#: other. The tests of `http` and `polling` mostly wait on real sleeps and
#: loopback requests, so they run beside the CPU-bound lanes instead of after
#: them; `schedule`, the longest CPU-bound group (about 20 min), has a lane of
#: its own, the two short ones (`retry`, `models`: about 10 min) share one.
LANES: tuple[tuple[str, ...], ...] = (("schedule",), ("retry", "models"), ("http",), ("polling",))
#: Workers (mutants tested at once) per group, where not 2: the waiting groups take more.
WORKERS = {"http": 3, "polling": 3}
CORE_MODULES = tuple(module for modules, _ in GROUPS.values() for module in modules)
GROUP_OF = {module: group for group, (modules, _) in GROUPS.items() for module in modules}
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalents.json"
MUTMUT = Path(sys.executable).parent / "mutmut"
DETECTED = frozenset({"killed", "timeout", "caught by type check"})
TARGET = 0.90
#: Modules with code that runs at import time, and the tests a fresh interpreter
#: runs for each of their mutants that the forked run did not kill.
FRESH_SELECTION = {
    "_convert": (
        "tests/unit/test_models.py",
        "tests/unit/test_request_coercion.py",
        "tests/client/test_endpoints.py",
    ),
    "types": ("tests/unit/test_models.py", "tests/unit/test_request_coercion.py"),
    # The bin edges (`_EDGES`) are computed from `edge` at import.
    "_estimator": ("tests/unit/test_schedule.py",),
    # Code that runs only in a child after os.fork(): mutmut maps tests to
    # functions in its own process, so it finds no test for it.
    "_schedule": (
        "tests/unit/test_schedule.py::test_threads_share_one_schedule_and_a_forked_child_can_use_it",
    ),
    "_http": (
        "tests/sync/test_threads_and_fork.py::test_an_async_client_used_in_the_parent_works_in_a_forked_child",
    ),
}
#: Where only some functions of a module need it (run at import, or in a forked
#: child): those (mutmut's names), the only ones the fresh pass tests again.
FRESH_FUNCTIONS = {
    "_estimator": ("x_edge",),
    "_schedule": ("x__after_fork_in_child", "xǁAdaptiveScheduleǁ_reset_after_fork"),
    "_http": ("xǁConnectionPoolǁ_after_fork_in_child",),
}
FRESH_TIMEOUT = (
    60.0  # seconds per mutant (the slowest selection takes ~10 s); past it: a hang, killed
)


def _group_dir(group: str) -> Path:
    return WORK / group


def _copy(group: str) -> Path:
    """mutmut's copy of the package and tests for `group` (where its tests run)."""
    return _group_dir(group) / "mutants"


def _prepare(group: str) -> None:
    """Write the directory mutmut runs in for `group` (see the module docstring)."""
    modules, selection = GROUPS[group]
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    # The group's keys go first in [tool.mutmut] (pyproject.toml leaves them out);
    # JSON writes these lists of strings as TOML reads them.
    only_mutate = [f"{PACKAGE}/{module}.py" for module in modules]
    keys = (
        f"only_mutate = {json.dumps(only_mutate)}\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(list(selection))}\n"
    )
    text, found = re.subn(r"(?m)^\[tool\.mutmut\]\n", lambda m: m.group(0) + keys, text)
    if found != 1:
        raise SystemExit("pyproject.toml has no [tool.mutmut] table")
    directory = _group_dir(group)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "pyproject.toml"
    content = f"# Written by scripts/mutation.py for the group {group!r}.\n{text}"
    if not config.exists() or config.read_text(encoding="utf-8") != content:
        config.write_text(content, encoding="utf-8")
    for name in (PACKAGE, "tests"):
        _mirror(ROOT / name, directory / name)


def _mirror(source: Path, target: Path) -> None:
    """Make `target` a copy of the directory `source` (mtimes kept: mutmut compares them).

    A copy, not a link: a link back into the checkout makes hatchling leave the
    package out of the sdist (and so of the wheel).
    """
    if target.is_symlink():
        target.unlink()
    wanted = set()
    for path in source.rglob("*"):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        relative = path.relative_to(source)
        wanted.add(relative)
        copy = target / relative
        if not copy.exists() or copy.stat().st_mtime != path.stat().st_mtime:
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, copy)
    for path in list(target.rglob("*")):
        if (
            path.is_file()
            and "__pycache__" not in path.parts
            and (path.relative_to(target) not in wanted)
        ):
            path.unlink()


def _mutmut(group: str, *args: str, capture: bool = False, log: Path | None = None) -> str:
    """Run mutmut in `group`'s directory; its output captured, or written to `log`."""
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(log.open("w", encoding="utf-8")) if log is not None else None
        done = subprocess.run(
            [str(MUTMUT), *args],
            cwd=_group_dir(group),
            text=True,
            capture_output=capture,
            stdout=out,
            stderr=subprocess.STDOUT if out is not None else None,
            check=False,
        )
    if done.returncode != 0:
        detail = (done.stderr or "") if capture else ""
        raise SystemExit(f"mutmut {args[0]} ({group}) failed ({done.returncode}) {detail}")
    return done.stdout or ""


def _sync_unmutated(group: str) -> None:
    """Copy again the package files mutmut does not mutate.

    mutmut copies the files that are not Python once and keeps that copy;
    after they change (a merge), the mutants would run against the old ones.
    """
    mutated = {f"{PACKAGE}/{module}.py" for module in GROUPS[group][0]}  # only_mutate
    for source in (ROOT / PACKAGE).rglob("*"):
        relative = source.relative_to(ROOT)
        copy = _copy(group) / relative
        if not source.is_file() or relative.as_posix() in mutated or "__pycache__" in source.parts:
            continue
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)


def _statuses(group: str) -> dict[str, str]:
    """Every mutant of `group` mutmut knows, by name (``stablebrowse_async._convert.x_f__mutmut_3``)."""
    if not (_copy(group) / "mutmut-stats.json").exists():
        return {}
    statuses = {}
    for line in _mutmut(group, "results", "--all", "true", capture=True).splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name.startswith(PACKAGE + "."):
            statuses[name] = status
    return statuses


def _module_of(mutant: str) -> str:
    return mutant.removeprefix(PACKAGE + ".").split(".", 1)[0]


def _fresh_applies(mutant: str) -> bool:
    """Whether the fresh pass tests `mutant` (when the forked run did not kill it)."""
    module = _module_of(mutant)
    # mutmut's name of the mutated function: x_edge, xǁDurationModelǁseed...
    function = mutant.removeprefix(f"{PACKAGE}.{module}.").rpartition("__mutmut_")[0]
    return module in FRESH_SELECTION and function in FRESH_FUNCTIONS.get(module, (function,))


#: Prints, as JSON, mutmut's diff of each mutant named on standard input (what
#: ``mutmut show`` prints), in one interpreter rather than one per mutant.
_DIFFS = """
import json, sys
from mutmut.mutation.diff_apply import find_mutant, get_diff_for_mutant
diffs = {}
for name in sys.stdin.read().split():
    try:
        diffs[name] = get_diff_for_mutant(name, path=find_mutant(name).path)
    except FileNotFoundError:
        pass
print(json.dumps(diffs))
"""


def _diffs(names: list[str]) -> dict[str, str]:
    """mutmut's diff of each of `names` that is a mutant mutmut knows."""
    diffs: dict[str, str] = {}
    for group in GROUPS:
        mine = [name for name in names if GROUP_OF.get(_module_of(name)) == group]
        if not mine or not (_copy(group) / "mutmut-stats.json").exists():
            continue
        done = subprocess.run(
            [sys.executable, "-c", _DIFFS],
            cwd=_group_dir(group),
            input="\n".join(mine),
            text=True,
            capture_output=True,
            check=True,
        )
        diffs.update(json.loads(done.stdout))
    return diffs


def _equivalents(modules: set[str]) -> tuple[dict[str, str], list[str]]:
    """The reviewed equivalent mutants of `modules` that still match the code, and the stale."""
    entries = json.loads(EQUIVALENTS.read_text(encoding="utf-8"))["equivalent"]
    valid: dict[str, str] = {}
    stale: list[str] = []
    diffs = _diffs([entry["mutant"] for entry in entries])
    for entry in entries:
        name, mutated, reason = entry["mutant"], entry["mutated"], entry["reason"]
        if _module_of(name) not in modules:
            continue
        if name not in diffs:
            stale.append(f"{name}: no such mutant any more")
            continue
        added = [
            line[1:].strip()
            for line in diffs[name].splitlines()
            if line.startswith("+") and not line.startswith("+++")
        ]
        if mutated.strip() in added:
            valid[name] = reason
        else:
            stale.append(f"{name}: the mutated line is no longer {mutated.strip()!r}")
    return valid, stale


def _fresh_pytest(group: str, mutant: str, tests: tuple[str, ...], timeout: float) -> int | None:
    """Run `tests` in a new interpreter with `mutant` active from the first import.

    The exit status of pytest, or None when it ran past `timeout` (then its
    whole process group is killed: a mutant can leave a forked child hanging).
    """
    copy = _copy(group)
    env = {**os.environ, "MUTANT_UNDER_TEST": mutant, "PYTHONPATH": str(copy)}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command += ["--hypothesis-profile=mutation", *tests]
    with subprocess.Popen(
        command,
        cwd=copy,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    ) as process:
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return None


def _fingerprint(module: str) -> str:
    """A hash of what a fresh verdict depends on besides the mutant: the code and the tests
    in mutmut's copy (what the last run tested, like mutmut's own results)."""
    digest = hashlib.sha256()
    copy = _copy(GROUP_OF[module])
    files = sorted((copy / PACKAGE).rglob("*.py")) + sorted((copy / "tests").rglob("*.py"))
    for path in files:
        digest.update(str(path.relative_to(copy)).encode())
        digest.update(path.read_bytes())
    digest.update(repr(FRESH_SELECTION[module]).encode())
    return digest.hexdigest()


def _fresh_cache(group: str) -> Path:
    return _group_dir(group) / "fresh-results.json"


def run_fresh(modules: list[str], workers: int) -> None:
    """Test again, each in a fresh interpreter, the mutants of `FRESH_SELECTION`'s
    modules that the forked run did not kill (see the module docstring)."""
    for module in (m for m in modules if m in FRESH_SELECTION):
        group = GROUP_OF[module]
        cache_file = _fresh_cache(group)
        cache = json.loads(cache_file.read_text()) if cache_file.exists() else {}
        statuses = _statuses(group)
        fingerprint = _fingerprint(module)
        selection = FRESH_SELECTION[module]
        # The set-up checks mutmut does too: without a mutant the selection passes
        # (so any failure below is the mutant's doing, an import it broke
        # included); with the "fail" mutant every mutated function raises, so
        # it must fail (else no mutant applies).
        if _fresh_pytest(group, "", selection, FRESH_TIMEOUT) != 0:
            raise SystemExit(f"the fresh selection of {module} fails without a mutant")
        if _fresh_pytest(group, "fail", selection, FRESH_TIMEOUT) == 0:
            raise SystemExit("fresh runs do not apply mutants (the forced failure passed)")
        alive = [
            name
            for name, status in sorted(statuses.items())
            if _module_of(name) == module
            and status not in DETECTED
            and status != "not checked"
            and _fresh_applies(name)
        ]
        diffs = _diffs(alive)
        keys = {
            name: hashlib.sha256((fingerprint + diffs[name]).encode()).hexdigest() for name in alive
        }
        todo = [name for name, key in keys.items() if cache.get(name, {}).get("key") != key]
        print(f"{module}: {len(keys)} mutants not killed when forked, {len(todo)} to test fresh")
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            runs = {
                pool.submit(_fresh_pytest, group, name, selection, FRESH_TIMEOUT): name
                for name in todo
            }
            for done, run in enumerate(concurrent.futures.as_completed(runs), 1):
                name, code = runs[run], run.result()
                # Any failure counts: a failed test, or an import the mutant broke.
                verdict = "survived" if code == 0 else "timeout" if code is None else "killed"
                cache[name] = {"key": keys[name], "fingerprint": fingerprint, "status": verdict}
                cache_file.write_text(json.dumps(cache, indent=1, sort_keys=True))
                if done % 20 == 0:
                    print(f"  {done}/{len(todo)} in {time.monotonic() - started:.0f} s")


def _fresh_statuses(modules: list[str]) -> dict[str, str]:
    """The fresh verdicts still valid for the code and tests as they are, by mutant name."""
    verdicts: dict[str, str] = {}
    for module in (m for m in modules if m in FRESH_SELECTION):
        cache_file = _fresh_cache(GROUP_OF[module])
        if not cache_file.exists() or not _copy(GROUP_OF[module]).exists():
            continue
        fingerprint = _fingerprint(module)
        for name, entry in json.loads(cache_file.read_text()).items():
            if (
                _module_of(name) == module
                and _fresh_applies(name)
                and entry.get("fingerprint") == fingerprint
            ):
                verdicts[name] = entry["status"]
    return verdicts


def report(
    modules: list[str], seconds: dict[str, float], wall: float, *, show_survivors: bool
) -> bool:
    """Print the score table; True when every module reaches the target.

    `seconds`: the run time of each group run now (mutmut and the fresh pass);
    `wall`: the whole run's (groups of different lanes run at once).
    """
    groups = sorted({GROUP_OF[m] for m in modules}, key=list(GROUPS).index)
    statuses = {
        name: status
        for group in groups
        for name, status in _statuses(group).items()
        if _module_of(name) in modules
    }
    fresh = _fresh_statuses(modules)
    fresh_counts: collections.Counter[str] = collections.Counter()
    for name, status in statuses.items():
        if _module_of(name) in FRESH_SELECTION and status not in DETECTED and name in fresh:
            statuses[name] = fresh[name]
            fresh_counts[_module_of(name)] += 1
    equivalent, stale = _equivalents(set(modules))
    by_module: dict[str, collections.Counter[str]] = {m: collections.Counter() for m in modules}
    survivors: list[str] = []
    for name, status in sorted(statuses.items()):
        counts = by_module[_module_of(name)]
        counts["mutants"] += 1
        if name in equivalent:
            counts["equivalent"] += 1
        elif status in DETECTED:
            counts["killed"] += 1
        else:
            counts[status] += 1
            if status != "not checked":
                survivors.append(f"{status:>12}  {name}")
    header = f"{'group':<9}{'module':<12}{'mutants':>8}{'checked':>8}{'fresh':>6}{'equiv.':>7}"
    print(f"\n{header}{'killed':>7}{'survived':>9}{'no tests':>9}{'other':>6}{'score':>7}")
    all_pass = True
    for module in sorted(modules, key=lambda m: (list(GROUPS).index(GROUP_OF[m]), m)):
        c = by_module[module]
        checked = c["mutants"] - c["not checked"]
        other = checked - c["equivalent"] - c["killed"] - c["survived"] - c["no tests"]
        denominator = checked - c["equivalent"]
        score = c["killed"] / denominator if denominator else 0.0
        all_pass &= score >= TARGET and c["not checked"] == 0 and c["mutants"] > 0
        print(
            f"{GROUP_OF[module]:<9}{module:<12}{c['mutants']:>8}{checked:>8}"
            f"{fresh_counts[module]:>6}{c['equivalent']:>7}{c['killed']:>7}"
            f"{c['survived']:>9}{c['no tests']:>9}{other:>6}{score:>7.1%}"
        )
    print(
        f"score = killed / (checked - equivalent); target {TARGET:.0%} per module, "
        "all mutants checked; fresh: not killed when forked, tested in a new interpreter"
    )
    if seconds:
        times = ", ".join(f"{group} {seconds[group] / 60:.1f}" for group in seconds)
        print(f"run time in minutes: {times}; wall clock {wall / 60:.1f}")
    if stale:
        print("\nstale entries in scripts/mutation_equivalents.json (not excluded):")
        print("\n".join(f"  {line}" for line in stale))
    if show_survivors and survivors:
        print(
            "\nnot killed (cd mutants/GROUP && ../../.venv/bin/mutmut show NAME prints the change):"
        )
        print("\n".join(f"  {line}" for line in survivors))
    return all_pass


def run_group(
    group: str, chosen: list[str], workers: int, args: argparse.Namespace, parallel: bool
) -> float:
    """Run mutmut (and the fresh pass) over the modules `chosen` of `group`; its run time.

    With other groups running at once (`parallel`), mutmut's progress goes to
    ``mutants/GROUP/mutmut-run.log`` instead of the terminal.
    """
    started = time.monotonic()
    _prepare(group)
    if args.fresh_only:
        if _copy(group).exists():
            _sync_unmutated(group)
        # mutmut copies the tests itself at every run; here, the current ones.
        shutil.copytree(ROOT / "tests", _copy(group) / "tests", dirs_exist_ok=True)
    else:
        shutil.rmtree(_copy(group), ignore_errors=True)  # no verdict kept (module docstring)
        patterns = [f"{PACKAGE}.{module}.*" for module in chosen]
        log = _group_dir(group) / "mutmut-run.log" if parallel else None
        where = f", progress in {log.relative_to(ROOT)}" if log is not None else ""
        print(
            f"\n== {group}: {' '.join(chosen)}, {workers} workers "
            f"({time.strftime('%H:%M:%S')}{where})",
            flush=True,
        )
        _mutmut(group, "run", "--max-children", str(workers), *patterns, log=log)
    run_fresh(chosen, workers)
    elapsed = time.monotonic() - started
    print(f"== {group}: {elapsed / 60:.1f} min", flush=True)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: {' '.join(CORE_MODULES)}")
    parser.add_argument("--report-only", action="store_true", help="score the last run")
    parser.add_argument(
        "--fresh-only", action="store_true", help="only the fresh-interpreter pass, then score"
    )
    parser.add_argument(
        "--max-children",
        type=int,
        default=None,
        help="workers per group (default: 2, more for the groups in WORKERS)",
    )
    parser.add_argument(
        "--serial", action="store_true", help="one group at a time (default: the LANES at once)"
    )
    parser.add_argument("--quiet", action="store_true", help="do not list the survivors")
    args = parser.parse_args(argv)
    modules = args.modules or list(CORE_MODULES)
    unknown = [m for m in modules if m not in GROUP_OF]
    if unknown:
        parser.error(f"not a core module ({', '.join(CORE_MODULES)}): {', '.join(unknown)}")
    seconds: dict[str, float] = {}
    started = time.monotonic()
    if not args.report_only:
        chosen = {
            group: [m for m in GROUPS[group][0] if m in modules]
            for group in GROUPS
            if any(m in modules for m in GROUPS[group][0])
        }
        lanes = [[g for g in lane if g in chosen] for lane in LANES]
        lanes = [lane for lane in lanes if lane]
        if args.serial:
            lanes = [[g for lane in lanes for g in lane]]
        parallel = len(lanes) > 1

        def run_lane(lane: list[str]) -> None:
            for group in lane:
                workers = args.max_children or WORKERS.get(group, 2)
                seconds[group] = run_group(group, chosen[group], workers, args, parallel)

        with concurrent.futures.ThreadPoolExecutor(max_workers=len(lanes)) as pool:
            for lane in [pool.submit(run_lane, lane) for lane in lanes]:
                lane.result()
        seconds = {group: seconds[group] for group in GROUPS if group in seconds}
    wall = time.monotonic() - started
    return 0 if report(modules, seconds, wall, show_survivors=not args.quiet) else 1


if __name__ == "__main__":
    sys.exit(main())
