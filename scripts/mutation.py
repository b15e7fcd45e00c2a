"""Mutation testing of the core modules with mutmut, and a score per module.

    python scripts/mutation.py                      # every core module (make mutation)
    python scripts/mutation.py _convert types       # some of them
    python scripts/mutation.py --report-only        # score the last run again

mutmut (configured in pyproject.toml, ``[tool.mutmut]``) copies the package to
``mutants/``, makes many small changes to the code (a flipped comparison, a
changed constant, a deleted argument...) and runs, for each, the tests of the
selection that executed the changed function. A mutant is *killed* when a test
fails (or hangs past the timeout); one that *survived* is a change no test
noticed. mutmut is given the modules as name patterns, so every run tests
each of their mutants again (a new test can kill an old survivor); results
stay in ``mutants/`` for ``--report-only`` and ``mutmut show``.

mutmut switches mutants at call time in processes forked after the package
was imported, so code that runs only at import time (the converter's hook
factories in ``_convert``, attrs field factories in ``types``) would never be
mutated there. For the modules listed in ``FRESH_SELECTION``, every mutant the
forked run did not kill is therefore tested again in a *fresh* interpreter:
``MUTANT_UNDER_TEST`` is set before Python starts, so the import itself builds
the mutated hooks, and the module's test selection runs against them. That
verdict replaces the forked one (column ``fresh`` of the table); results are
cached in ``mutants/fresh-results.json`` by the mutant's change and the code
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
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "stablebrowse_async"
CORE_MODULES = (
    "_retry",
    "_polling",
    "_schedule",
    "_estimator",
    "_convert",
    "types",
    "_http",
    "errors",
)
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
}
FRESH_RESULTS = ROOT / "mutants" / "fresh-results.json"
FRESH_TIMEOUT = 180.0  # seconds per mutant; a mutant past it counts as killed (a hang)


def _mutmut(*args: str, capture: bool = False) -> str:
    done = subprocess.run(
        [str(MUTMUT), *args], cwd=ROOT, text=True, capture_output=capture, check=False
    )
    if done.returncode != 0:
        detail = (done.stderr or "") if capture else ""
        raise SystemExit(f"mutmut {args[0]} failed ({done.returncode}) {detail}")
    return done.stdout or ""


def _sync_unmutated() -> None:
    """Copy again the package files mutmut does not mutate.

    mutmut copies them to ``mutants/`` once and keeps that copy; after they
    change (a merge), the mutants would run against the old code.
    """
    mutated = {f"{PACKAGE}/{module}.py" for module in CORE_MODULES}  # only_mutate
    for source in (ROOT / PACKAGE).rglob("*"):
        relative = source.relative_to(ROOT)
        copy = ROOT / "mutants" / relative
        if not source.is_file() or relative.as_posix() in mutated or "__pycache__" in source.parts:
            continue
        if not copy.exists() or copy.read_bytes() != source.read_bytes():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)


def _statuses() -> dict[str, str]:
    """Every mutant mutmut knows, by name (``stablebrowse_async._convert.x_f__mutmut_3``)."""
    statuses = {}
    for line in _mutmut("results", "--all", "true", capture=True).splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep and name.startswith(PACKAGE + "."):
            statuses[name] = status
    return statuses


def _module_of(mutant: str) -> str:
    return mutant.removeprefix(PACKAGE + ".").split(".", 1)[0]


def _equivalents(modules: set[str]) -> tuple[dict[str, str], list[str]]:
    """The reviewed equivalent mutants of `modules` that still match the code, and the stale."""
    entries = json.loads(EQUIVALENTS.read_text(encoding="utf-8"))["equivalent"]
    valid: dict[str, str] = {}
    stale: list[str] = []
    for entry in entries:
        name, mutated, reason = entry["mutant"], entry["mutated"], entry["reason"]
        if _module_of(name) not in modules:
            continue
        try:
            diff = _mutmut("show", name, capture=True)
        except SystemExit:
            stale.append(f"{name}: no such mutant any more")
            continue
        added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+ ")]
        if mutated.strip() in added:
            valid[name] = reason
        else:
            stale.append(f"{name}: the mutated line is no longer {mutated.strip()!r}")
    return valid, stale


def _fresh_pytest(mutant: str, tests: tuple[str, ...], timeout: float) -> int | None:
    """Run `tests` in a new interpreter with `mutant` active from the first import.

    The exit status of pytest, or None when it ran past `timeout`.
    """
    mutants = ROOT / "mutants"
    env = {**os.environ, "MUTANT_UNDER_TEST": mutant, "PYTHONPATH": str(mutants)}
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    command += ["--hypothesis-profile=mutation", *tests]
    try:
        done = subprocess.run(
            command, cwd=mutants, env=env, capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return None
    return done.returncode


def _fingerprint(module: str) -> str:
    """A hash of what a fresh verdict depends on besides the mutant: the code and the tests
    in ``mutants/`` (what the last run tested, like mutmut's own results)."""
    digest = hashlib.sha256()
    copy = ROOT / "mutants"
    files = sorted((copy / PACKAGE).rglob("*.py")) + sorted((copy / "tests").rglob("*.py"))
    for path in files:
        digest.update(str(path.relative_to(copy)).encode())
        digest.update(path.read_bytes())
    digest.update(repr(FRESH_SELECTION[module]).encode())
    return digest.hexdigest()


def run_fresh(modules: list[str], workers: int) -> None:
    """Test again, each in a fresh interpreter, the mutants of `FRESH_SELECTION`'s
    modules that the forked run did not kill (see the module docstring)."""
    wanted = [m for m in modules if m in FRESH_SELECTION]
    if not wanted:
        return
    cache = json.loads(FRESH_RESULTS.read_text()) if FRESH_RESULTS.exists() else {}
    statuses = _statuses()
    for module in wanted:
        fingerprint = _fingerprint(module)
        selection = FRESH_SELECTION[module]
        # The set-up checks mutmut does too: without a mutant the selection passes
        # (so any failure below is the mutant's doing, an import it broke
        # included); with the "fail" mutant every mutated function raises, so
        # it must fail (else no mutant applies).
        if _fresh_pytest("", selection, FRESH_TIMEOUT) != 0:
            raise SystemExit(f"the fresh selection of {module} fails without a mutant")
        if _fresh_pytest("fail", selection, FRESH_TIMEOUT) == 0:
            raise SystemExit("fresh runs do not apply mutants (the forced failure passed)")
        keys = {
            name: hashlib.sha256(
                (fingerprint + _mutmut("show", name, capture=True)).encode()
            ).hexdigest()
            for name, status in sorted(statuses.items())
            if _module_of(name) == module and status not in DETECTED and status != "not checked"
        }
        todo = [name for name, key in keys.items() if cache.get(name, {}).get("key") != key]
        print(f"{module}: {len(keys)} mutants not killed when forked, {len(todo)} to test fresh")
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            runs = {
                pool.submit(_fresh_pytest, name, selection, FRESH_TIMEOUT): name for name in todo
            }
            for done, run in enumerate(concurrent.futures.as_completed(runs), 1):
                name, code = runs[run], run.result()
                # Any failure counts: a failed test, or an import the mutant broke.
                verdict = "survived" if code == 0 else "timeout" if code is None else "killed"
                cache[name] = {"key": keys[name], "fingerprint": fingerprint, "status": verdict}
                FRESH_RESULTS.write_text(json.dumps(cache, indent=1, sort_keys=True))
                if done % 20 == 0:
                    print(f"  {done}/{len(todo)} in {time.monotonic() - started:.0f} s")


def _fresh_statuses(modules: list[str]) -> dict[str, str]:
    """The fresh verdicts still valid for the code and tests as they are, by mutant name."""
    if not FRESH_RESULTS.exists():
        return {}
    cache = json.loads(FRESH_RESULTS.read_text())
    current = {m: _fingerprint(m) for m in modules if m in FRESH_SELECTION}
    return {
        name: entry["status"]
        for name, entry in cache.items()
        if current.get(_module_of(name)) == entry.get("fingerprint")
    }


def report(modules: list[str], *, show_survivors: bool) -> bool:
    """Print the score table; True when every module reaches the target."""
    statuses = {n: s for n, s in _statuses().items() if _module_of(n) in modules}
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
    header = f"{'module':<12}{'mutants':>9}{'checked':>9}{'fresh':>7}{'equiv.':>8}{'killed':>8}"
    print(f"\n{header}{'survived':>10}{'no tests':>10}{'other':>7}{'score':>8}")
    all_pass = True
    for module in modules:
        c = by_module[module]
        checked = c["mutants"] - c["not checked"]
        other = checked - c["equivalent"] - c["killed"] - c["survived"] - c["no tests"]
        denominator = checked - c["equivalent"]
        score = c["killed"] / denominator if denominator else 0.0
        all_pass &= score >= TARGET and c["not checked"] == 0
        print(
            f"{module:<12}{c['mutants']:>9}{checked:>9}{fresh_counts[module]:>7}"
            f"{c['equivalent']:>8}{c['killed']:>8}"
            f"{c['survived']:>10}{c['no tests']:>10}{other:>7}{score:>8.1%}"
        )
    print(
        f"score = killed / (checked - equivalent); target {TARGET:.0%} per module, "
        "all mutants checked; fresh: not killed when forked, tested in a new interpreter"
    )
    if stale:
        print("\nstale entries in scripts/mutation_equivalents.json (not excluded):")
        print("\n".join(f"  {line}" for line in stale))
    if show_survivors and survivors:
        print("\nnot killed (mutmut show NAME prints the change):")
        print("\n".join(f"  {line}" for line in survivors))
    return all_pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help=f"default: {' '.join(CORE_MODULES)}")
    parser.add_argument("--report-only", action="store_true", help="score the last run")
    parser.add_argument(
        "--fresh-only", action="store_true", help="only the fresh-interpreter pass, then score"
    )
    parser.add_argument("--max-children", type=int, default=2, help="parallel workers")
    parser.add_argument("--quiet", action="store_true", help="do not list the survivors")
    args = parser.parse_args(argv)
    modules = args.modules or [m for m in CORE_MODULES if (ROOT / PACKAGE / f"{m}.py").exists()]
    unknown = [m for m in modules if not (ROOT / PACKAGE / f"{m}.py").exists()]
    if unknown:
        parser.error(f"no such module in {PACKAGE}/: {', '.join(unknown)}")
    if not args.report_only:
        if (ROOT / "mutants").exists():
            _sync_unmutated()
        if args.fresh_only:
            # mutmut copies the tests itself at every run; here, the current ones.
            shutil.copytree(ROOT / "tests", ROOT / "mutants" / "tests", dirs_exist_ok=True)
        else:
            patterns = [f"{PACKAGE}.{module}.*" for module in modules]
            _mutmut("run", "--max-children", str(args.max_children), *patterns)
        run_fresh(modules, args.max_children)
    return 0 if report(modules, show_survivors=not args.quiet) else 1


if __name__ == "__main__":
    sys.exit(main())
