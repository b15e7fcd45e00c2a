"""Mutation testing of the core modules with mutmut, and a score per module.

    python scripts/mutation.py                      # every core module (make mutation)
    python scripts/mutation.py _convert types       # some of them
    python scripts/mutation.py --report-only        # score the last run again

mutmut (configured in pyproject.toml, ``[tool.mutmut]``) copies the package to
``mutants/``, makes many small changes to the code (a flipped comparison, a
changed constant, a deleted argument...) and runs, for each, the tests of the
selection that executed the changed function. A mutant is *killed* when a test
fails (or hangs past the timeout); one that *survived* is a change no test
noticed. Results are cached in ``mutants/``: a later run only re-tests what
changed.

The score of a module is ``killed / (mutants - equivalent)``. Equivalent mutants
cannot change behaviour (``x >= 0`` and ``x > 0`` where ``x`` is never 0...);
each is listed once, with the reason, in ``scripts/mutation_equivalents.json``,
together with its mutated line, so an entry that no longer matches the code is
reported as stale instead of silently excluding a new mutant.
"""

from __future__ import annotations

import argparse
import collections
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "stablebrowse_async"
CORE_MODULES = ("_retry", "_polling", "_estimator", "_convert", "types", "_http", "errors")
EQUIVALENTS = ROOT / "scripts" / "mutation_equivalents.json"
MUTMUT = Path(sys.executable).parent / "mutmut"
DETECTED = frozenset({"killed", "timeout", "caught by type check"})
TARGET = 0.90


def _mutmut(*args: str, capture: bool = False) -> str:
    done = subprocess.run(
        [str(MUTMUT), *args], cwd=ROOT, text=True, capture_output=capture, check=False
    )
    if done.returncode != 0:
        detail = (done.stderr or "") if capture else ""
        raise SystemExit(f"mutmut {args[0]} failed ({done.returncode}) {detail}")
    return done.stdout or ""


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


def report(modules: list[str], *, show_survivors: bool) -> bool:
    """Print the score table; True when every module reaches the target."""
    statuses = {n: s for n, s in _statuses().items() if _module_of(n) in modules}
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
    header = f"{'module':<12}{'mutants':>9}{'checked':>9}{'equiv.':>8}{'killed':>8}"
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
            f"{module:<12}{c['mutants']:>9}{checked:>9}{c['equivalent']:>8}{c['killed']:>8}"
            f"{c['survived']:>10}{c['no tests']:>10}{other:>7}{score:>8.1%}"
        )
    print(
        f"score = killed / (checked - equivalent); target {TARGET:.0%} per module, "
        "all mutants checked"
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
    parser.add_argument("--max-children", type=int, default=2, help="parallel workers")
    parser.add_argument("--quiet", action="store_true", help="do not list the survivors")
    args = parser.parse_args(argv)
    modules = args.modules or [m for m in CORE_MODULES if (ROOT / PACKAGE / f"{m}.py").exists()]
    unknown = [m for m in modules if not (ROOT / PACKAGE / f"{m}.py").exists()]
    if unknown:
        parser.error(f"no such module in {PACKAGE}/: {', '.join(unknown)}")
    if not args.report_only:
        patterns = [f"{PACKAGE}.{module}.*" for module in modules]
        _mutmut("run", "--max-children", str(args.max_children), *patterns)
    return 0 if report(modules, show_survivors=not args.quiet) else 1


if __name__ == "__main__":
    sys.exit(main())
