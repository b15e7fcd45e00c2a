"""`filesystem_config`'s broker: a message becomes visible to consumers only once
written whole (kombu's own filesystem transport creates the file, then writes it,
and a worker that takes it in between dies on an empty message: celery/kombu#1551)."""

from __future__ import annotations

from pathlib import Path
from queue import Empty
from typing import Any

import pytest
from kombu import Connection
from kombu.exceptions import ChannelError

from stablebrowse_async.contrib import celery as stablebrowse_celery


def _channel(folder: Path) -> Any:
    options = stablebrowse_celery.filesystem_config(folder)
    connection = Connection(
        options["broker_url"],
        transport=options["broker_transport"],
        transport_options=options["broker_transport_options"],
    )
    return connection, connection.default_channel


def test_the_config_selects_the_whole_message_transport(tmp_path: Path) -> None:
    connection, channel = _channel(tmp_path)
    with connection:
        assert isinstance(connection.transport, stablebrowse_celery.WholeMessageFilesystemTransport)
        channel._put("jobs", {"n": 1})
        channel._put("jobs", {"n": 2})
        taken = [channel._get("jobs"), channel._get("jobs")]
        assert sorted(m["n"] for m in taken) == [1, 2]  # same millisecond: any order
        with pytest.raises(Empty):
            channel._get("jobs")


def test_a_message_being_written_is_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    connection, channel = _channel(tmp_path)
    seen_while_writing: list[object] = []
    real_open = open

    class SlowFile:
        """A file whose write first lets a consumer look at the queue."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            self._file = real_open(*args, **kwargs)

        def __enter__(self) -> SlowFile:
            return self

        def __exit__(self, *exc: object) -> None:
            self._file.close()

        def write(self, data: bytes) -> int:
            try:
                seen_while_writing.append(channel._get("jobs"))
            except Exception as error:  # Empty, as wanted; a decode error otherwise
                seen_while_writing.append(type(error).__name__)
            return int(self._file.write(data))

    monkeypatch.setattr(stablebrowse_celery, "open", SlowFile, raising=False)
    with connection:
        channel._put("jobs", {"task": "x" * 10_000})
        assert seen_while_writing == ["Empty"]
        assert channel._get("jobs") == {"task": "x" * 10_000}
        assert not list((tmp_path / "queue").iterdir())  # nothing left, no partial file


def test_a_folder_it_cannot_write_names_the_file(tmp_path: Path) -> None:
    connection, channel = _channel(tmp_path)
    with connection:
        channel.data_folder_out = str(tmp_path / "missing")
        with pytest.raises(ChannelError, match="Cannot add file"):
            channel._put("jobs", {"n": 1})
