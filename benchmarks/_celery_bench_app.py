"""The Celery app of `engines.py` (not a benchmark): a broker in files under $SB_CELERY_HOME."""

from __future__ import annotations

import os

from celery import Celery

from stablebrowse_async.contrib import celery as stablebrowse_celery

app = Celery("sbbench")
app.conf.update(stablebrowse_celery.filesystem_config(os.environ["SB_CELERY_HOME"]))
stablebrowse_celery.install(app)
