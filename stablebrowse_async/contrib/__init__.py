"""Integrations with the engines batch pipelines already run on (extras ``ray`` and ``celery``).

- `stablebrowse_async.contrib.ray`: `TaskRunner` for ``Dataset.map_batches`` and
  `run_dataset`, with one rate gate shared by every actor of the cluster.
- `stablebrowse_async.contrib.celery`: `install(app)` registers the task
  ``"stablebrowse.run"`` with one sync `Client` per worker child.
- `stablebrowse_async.contrib.journal`: `SqliteJournal`, the journal of accepted
  submissions every worker of one host sees, so a re-run waits for the tasks a
  killed worker already submitted instead of submitting them again.

The core package never imports these modules, Ray or Celery.
"""
