"""The Celery app of the worker tests: a broker and result store in files (no server).

Configured from the environment so the worker subprocess (``celery -A
tests.contrib._celery_app worker``) and the test process build the same app.
"""

from __future__ import annotations

import os
from pathlib import Path

from celery import Celery
from celery.signals import task_prerun

from stablebrowse_async.contrib import celery as stablebrowse_celery
from stablebrowse_async.contrib.journal import SqliteJournal

HOME = Path(os.environ["SB_CELERY_HOME"])


def make_app() -> Celery:
    """The app, its folders created: queue files, results, the journal."""
    for name in ("queue", "processed", "results", "running"):
        (HOME / name).mkdir(parents=True, exist_ok=True)
    app = Celery("sbtest")
    app.conf.update(
        broker_url="filesystem://",
        broker_transport_options={
            "data_folder_in": str(HOME / "queue"),
            "data_folder_out": str(HOME / "queue"),
            "processed_folder": str(HOME / "processed"),
            "store_processed": False,
            "polling_interval": 0.05,
        },
        result_backend=f"file://{HOME / 'results'}",
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        worker_lost_wait=1.0,
    )
    return app


app = make_app()
journal = SqliteJournal(HOME / "journal.sqlite")
run = stablebrowse_celery.install(app, journal=journal, poll_interval=0.2)


@task_prerun.connect
def _note_pid(task_id: str, **_: object) -> None:
    """Which child runs which task: the test kills exactly that child."""
    (HOME / "running" / task_id).write_text(str(os.getpid()))
