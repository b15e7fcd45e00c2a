"""The console command in a subprocess, the thread runner and the pytest fixtures."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.request

import pytest

from stablebrowse_async.testing import Emulator, EmulatorThread
from stablebrowse_async.testing._console import build_parser


def test_console_serves_prints_url_and_key_and_stops_cleanly() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "stablebrowse_async.testing",
            "--port",
            "0",
            "--seed",
            "3",
            "--min-duration",
            "0.01",
            "--max-duration",
            "0.02",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(4)]
        url = re.search(r"STABLEBROWSE_BASE_URL=(\S+)", "".join(lines)).group(1)  # type: ignore[union-attr]
        key = re.search(r"STABLEBROWSE_API_KEY=(\S+)", "".join(lines)).group(1)  # type: ignore[union-attr]
        assert re.match(r"^http://127\.0\.0\.1:\d+/v1$", url)
        assert not url.endswith(":0/v1")
        assert "Dashboard token: eyJ" in "".join(lines)
        request = urllib.request.Request(
            url + "/tasks",
            data=json.dumps({"endUserId": "a", "task": "hi"}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 201
            assert json.load(resp)["status"] == "pending"
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "emulator stopped" in out


def test_console_parses_faults_and_options() -> None:
    args = build_parser().parse_args(
        [
            "--fault",
            "status:0.5:503",
            "--fault",
            "reset_before:0.1",
            "--quota",
            "15",
            "--speed",
            "10",
        ]
    )
    assert [(f.kind, f.rate, f.status) for f in args.fault] == [
        ("status", 0.5, 503),
        ("reset_before", 0.1, None),
    ]
    assert args.quota == 15
    assert args.port == 8765
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--fault", "explode:1"])


def test_emulator_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        Emulator(host="0.0.0.0")


def test_emulator_thread_helpers_are_thread_safe() -> None:
    with EmulatorThread(durations=(0.01, 0.02)) as emu:
        other = emu.add_business(name="b2", monthly_quota=1)
        key = emu.mint_api_key(other, label="x")
        assert key.startswith("sb_live_")
        request = urllib.request.Request(
            emu.url + "/tasks", headers={"Authorization": f"Bearer {key}"}
        )
        with urllib.request.urlopen(request, timeout=5) as resp:
            assert resp.status == 200
        emu.revoke_api_key(key[:16])
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(request, timeout=5)
        assert info.value.code == 403
        assert emu.call(lambda: 7) == 7
        assert emu.tasks_created() == 0
        assert len(emu.requests) == 2
        emu.clear_requests()
        assert emu.requests == []
    assert emu._thread is None


def test_thread_fixture(stablebrowse_emulator_thread: EmulatorThread) -> None:
    assert stablebrowse_emulator_thread.url.startswith("http://127.0.0.1:")


@pytest.mark.anyio
async def test_async_fixture(stablebrowse_emulator: Emulator) -> None:
    import aiohttp

    headers = {"Authorization": f"Bearer {stablebrowse_emulator.api_key}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(stablebrowse_emulator.url + "/tasks", headers=headers) as resp,
    ):
        assert resp.status == 200
