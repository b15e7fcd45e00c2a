"""The sync Client in a real Jupyter kernel: a notebook cell runs inside the kernel's event loop.

Each test starts an IPython kernel (ipykernel, through jupyter_client) in a
subprocess, runs cells in it against the emulator of this process, and reads
their output. Every wait is bounded; the kernel is shut down on every path.
"""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.manager import start_new_kernel

from stablebrowse_async.sync import Client
from stablebrowse_async.testing import EmulatorThread

CELL_TIMEOUT = 60.0


@pytest.fixture
def kernel() -> Iterator[BlockingKernelClient]:
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60)
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def run_cell(kernel: BlockingKernelClient, code: str) -> str:
    """Execute `code` as one cell; return what it printed, or fail with the kernel's traceback."""
    printed: list[str] = []

    def on_output(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            printed.append("\n".join(message["content"]["traceback"]))

    reply = kernel.execute_interactive(
        textwrap.dedent(code), timeout=CELL_TIMEOUT, output_hook=on_output
    )
    output = "".join(printed)
    assert reply["content"]["status"] == "ok", output
    return output


def test_the_sync_client_runs_a_task_from_a_notebook_cell(
    kernel: BlockingKernelClient, emu: EmulatorThread
) -> None:
    run_cell(kernel, f"KEY, URL = {emu.api_key!r}, {emu.url!r}")
    out = run_cell(
        kernel,
        """
        import asyncio
        asyncio.get_running_loop()  # the cell runs inside the kernel's event loop
        from stablebrowse_async.sync import Client
        client = Client(KEY, base_url=URL, poll_interval=0.02)
        task = client.tasks.run(end_user_id="nb", task="from a notebook cell")
        print("SYNC", task.status.value, task.task_id)
        """,
    )
    status, task_id = out.split()[1:3]
    assert status == "completed"
    assert emu.tasks_created() == 1

    # Top-level await with the AsyncClient, in the same kernel.
    out = run_cell(
        kernel,
        """
        from stablebrowse_async import AsyncClient
        async with AsyncClient(KEY, base_url=URL, poll_interval=0.02) as aclient:
            done = await aclient.tasks.run(end_user_id="nb", task="awaited in a cell")
            again = await aclient.tasks.get(task.task_id)
        print("ASYNC", done.status.value, again.task_id)
        """,
    )
    assert out.split() == ["ASYNC", "completed", task_id]

    # The sync client still refuses a loop that is not the kernel's: a web app's in a thread.
    out = run_cell(
        kernel,
        """
        import threading
        errors = []
        async def handler():
            try:
                client.tasks.get(task.task_id)
            except RuntimeError as error:
                errors.append(str(error))
        app = threading.Thread(target=asyncio.run, args=(handler(),))
        app.start()
        app.join(30)
        print("OTHER_LOOP", len(errors), "AsyncClient" in errors[0])
        client.close()
        print("CLOSED", client.is_closed)
        """,
    )
    assert out.split() == ["OTHER_LOOP", "1", "True", "CLOSED", "True"]


def test_an_ipython_shell_that_is_not_a_kernel_keeps_the_error(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # IPython in a terminal runs plain cells without a loop; a loop running there
    # is the user's own (an app), so blocking it is refused as anywhere else.
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path))
    shell = InteractiveShell.instance(history_load_length=0)
    try:

        async def inside() -> None:
            with pytest.raises(RuntimeError, match="AsyncClient"):
                client.tasks.list()

        assert shell is InteractiveShell.instance()
        asyncio.run(inside())
    finally:
        InteractiveShell.clear_instance()
    assert client.tasks.list() == []
