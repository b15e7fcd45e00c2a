"""The built wheel installs and works in a fresh virtual environment.

What a user gets from ``pip install stablebrowse-async[cli]``: the sdist and
wheel are built from this checkout (``python -m build``, as ``make dist``
does), ``twine check`` accepts them, and the wheel goes into a new venv that
has neither this checkout nor the dev venv on its path. Dependencies come from
the package index through pip's cache. There, the installed package runs a
task against its own bundled emulator (async and sync), the ``stablebrowse``
command talks to an emulator served by this test, and ``py.typed`` ships.

About 20-40 s (building, a venv, installing the dependencies); deselect with
``-m "not wheel"``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from stablebrowse_async import __version__
from stablebrowse_async.testing import EmulatorThread

pytestmark = pytest.mark.wheel

ROOT = Path(__file__).resolve().parent.parent
_STEP_TIMEOUT = 240

_IN_THE_WHEEL = textwrap.dedent(
    """
    import asyncio, json, sys
    import stablebrowse_async
    import stablebrowse_async.sync
    from stablebrowse_async import AsyncClient
    from stablebrowse_async.testing import Emulator, EmulatorThread

    async def run_async():
        async with Emulator(durations=(0.05, 0.1)) as emu:
            async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=0.05) as client:
                task = await client.tasks.run(end_user_id="wheel", task="from the wheel")
        return task.status.value

    def run_sync():
        with EmulatorThread(durations=(0.05, 0.1)) as emu:
            with stablebrowse_async.sync.Client(
                emu.api_key, base_url=emu.url, poll_interval=0.05
            ) as client:
                return client.tasks.run(end_user_id="wheel", task="sync").status.value

    print(json.dumps({
        "file": stablebrowse_async.__file__,
        "version": stablebrowse_async.__version__,
        "async": asyncio.run(run_async()),
        "sync": run_sync(),
        "path": sys.path,
    }))
    """
)


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=_STEP_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, f"{args[:3]} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _clean_env() -> dict[str, str]:
    """The environment without anything that would put this checkout or the dev venv on a path."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}
    return {name: value for name, value in os.environ.items() if name not in drop}


def test_the_wheel_installs_into_a_fresh_venv_and_works(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", dist, ROOT, cwd=tmp_path)
    wheels = sorted(dist.glob("*.whl"))
    sdists = sorted(dist.glob("*.tar.gz"))
    assert [w.name for w in wheels] == [f"stablebrowse_async-{__version__}-py3-none-any.whl"]
    assert len(sdists) == 1
    assert "PASSED" in _run(sys.executable, "-m", "twine", "check", *wheels, *sdists, cwd=tmp_path)
    with zipfile.ZipFile(wheels[0]) as archive:
        names = set(archive.namelist())
    assert "stablebrowse_async/py.typed" in names
    assert "stablebrowse_async/testing/_emulator.py" in names
    assert not any(name.startswith("tests/") for name in names)

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    env = _clean_env()
    # The dev venv's pip installs into the new venv (--python): no pip bootstrap there.
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--quiet",
        f"{wheels[0]}[cli]",
        cwd=tmp_path,
        env=env,
    )

    # -I: isolated mode, neither the current directory nor PYTHONPATH on sys.path.
    report = json.loads(_run(python, "-I", "-c", _IN_THE_WHEEL, cwd=tmp_path, env=env))
    site_packages = str(venv / "lib")
    assert report["file"].startswith(site_packages), report["file"]
    assert report["version"] == __version__
    assert (report["async"], report["sync"]) == ("completed", "completed")
    assert not any(entry.startswith(str(ROOT)) for entry in report["path"])

    command = venv / "bin" / "stablebrowse"
    assert _run(command, "--version", cwd=tmp_path, env=env).strip().endswith(__version__)
    with EmulatorThread(durations=(0.05, 0.1)) as emu:
        created = emu.create_task("seen by the installed command", end_user_id="wheel")
        shown = _run(
            command,
            "--api-key",
            emu.api_key,
            "--base-url",
            emu.url,
            "--json",
            "get",
            created["taskId"],
            cwd=tmp_path,
            env=env,
        )
    assert json.loads(shown)["taskId"] == created["taskId"]
