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
    """The app: queue files, results and the journal under $SB_CELERY_HOME."""
    (HOME / "running").mkdir(parents=True, exist_ok=True)
    app = Celery("sbtest")
    app.conf.update(stablebrowse_celery.filesystem_config(HOME), worker_lost_wait=1.0)
    return app


app = make_app()
journal = SqliteJournal(HOME / "journal.sqlite")
run = stablebrowse_celery.install(app, journal=journal, poll_interval=0.2)


@task_prerun.connect
def _note_pid(task_id: str, **_: object) -> None:
    """Which child runs which task: the test kills exactly that child."""
    (HOME / "running" / task_id).write_text(str(os.getpid()))
