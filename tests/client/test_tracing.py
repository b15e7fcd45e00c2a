"""OpenTelemetry: spans exported by the real SDK (in memory), traceparent seen by the emulator."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from stablebrowse_async import (
    APIConnectionError,
    AsyncClient,
    NotFoundError,
    TaskFailedError,
    TaskTimeoutError,
)
from stablebrowse_async.testing import Emulator, Fault

from .conftest import FAST_POLLS

pytestmark = pytest.mark.anyio

GET_TASK = "GET /v1/tasks/{taskId}"


class _WhileCollecting(SimpleSpanProcessor):
    """Exports only while a test of this module collects (the provider is process-wide)."""

    collecting = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.collecting:
            super().on_end(span)


_EXPORTER = InMemorySpanExporter()
_PROCESSOR = _WhileCollecting(_EXPORTER)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The SDK installed once per process (OpenTelemetry allows one global provider)."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(_PROCESSOR)
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    _PROCESSOR.collecting = True
    try:
        yield _EXPORTER
    finally:
        _PROCESSOR.collecting = False
        _EXPORTER.clear()


def _http(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.kind is SpanKind.CLIENT]


def _traceparent(span: ReadableSpan) -> str:
    context = span.get_span_context()
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


async def test_a_client_span_per_attempt_with_traceparent(
    client: AsyncClient, emu: Emulator, spans: InMemorySpanExporter
) -> None:
    task = await client.tasks.submit(end_user_id="alice", task="x")
    emu.faults.append(Fault("status", status=503, route=GET_TASK, times=1))
    await client.tasks.get(task.task_id)

    post, failed, retried = _http(spans)
    assert post.name == "POST /v1/tasks"
    assert _attributes(post) == {
        "http.request.method": "POST",
        "url.template": "/v1/tasks",
        "server.address": "127.0.0.1",
        "server.port": emu.port,
        "http.response.status_code": 201,
    }
    # Route templates, never the id, in the names.
    assert failed.name == retried.name == GET_TASK
    assert task.task_id not in failed.name
    assert _attributes(failed)["http.response.status_code"] == 503
    assert _attributes(failed)["error.type"] == "503"
    assert failed.status.status_code is StatusCode.ERROR
    assert "http.request.resend_count" not in _attributes(failed)
    assert _attributes(retried)["http.request.resend_count"] == 1
    assert _attributes(retried)["http.response.status_code"] == 200
    assert "error.type" not in _attributes(retried)
    # Every request carried its own attempt's span as the W3C parent.
    sent = [r.headers.get("traceparent") for r in emu.requests]
    assert sent == [_traceparent(s) for s in (post, failed, retried)]


async def test_the_callers_span_is_the_parent(
    client: AsyncClient, emu: Emulator, spans: InMemorySpanExporter
) -> None:
    tracer = trace.get_tracer("app")
    with tracer.start_as_current_span("handle request") as outer:
        with pytest.raises(NotFoundError):
            await client.tasks.get("missing")
    (span,) = _http(spans)
    assert span.parent is not None
    assert span.parent.span_id == outer.get_span_context().span_id
    assert span.context.trace_id == outer.get_span_context().trace_id
    assert _attributes(span)["error.type"] == "404"


async def test_connection_failure_names_the_error(spans: InMemorySpanExporter) -> None:
    async with AsyncClient("sb_live_x", base_url="http://127.0.0.1:1/v1", max_retries=0) as dead:
        with pytest.raises(APIConnectionError):
            await dead.tasks.list()
    (span,) = _http(spans)
    assert span.name == "GET /v1/tasks"
    assert _attributes(span)["error.type"] == "ClientConnectorError"
    assert "http.response.status_code" not in _attributes(span)
    assert span.status.status_code is StatusCode.ERROR


async def test_a_span_per_waited_task(
    client: AsyncClient, emu: Emulator, spans: InMemorySpanExporter
) -> None:
    done = await client.tasks.run(end_user_id="alice", task="find it", poll_timeout=30)
    (waited,) = [s for s in spans.get_finished_spans() if s.name == "stablebrowse.task"]
    attributes = _attributes(waited)
    assert attributes["stablebrowse.task.id"] == done.task_id
    assert attributes["stablebrowse.task.status"] == "completed"
    polls = sum(1 for r in emu.requests if r.method == "GET")
    assert attributes["stablebrowse.task.polls"] == polls >= 1
    # The submission and the polls are its children.
    children = _http(spans)
    assert len(children) == polls + 1
    assert all(
        c.parent is not None and c.parent.span_id == waited.context.span_id for c in children
    )

    spans.clear()
    again = await client.tasks.wait(done.task_id)
    (waited,) = [s for s in spans.get_finished_spans() if s.name == "stablebrowse.task"]
    assert _attributes(waited)["stablebrowse.task.polls"] == 1
    assert again.task_id == done.task_id


async def test_a_span_per_task_of_a_batch(
    client: AsyncClient, emu: Emulator, spans: InMemorySpanExporter
) -> None:
    requests = [{"end_user_id": "alice", "task": f"batch {n}"} for n in range(3)]
    requests.append({"end_user_id": "alice", "task": "break [[fail]]"})
    outcomes = {o.index: o async for o in client.tasks.run_many(requests, poll_timeout=30)}
    by_id = {
        _attributes(s)["stablebrowse.task.id"]: s
        for s in spans.get_finished_spans()
        if s.name == "stablebrowse.task"
    }
    assert len(by_id) == 4
    for index, outcome in outcomes.items():
        task = outcome.task if outcome.error is None else outcome.error.task  # type: ignore[attr-defined]
        span = by_id[task.task_id]
        attributes = _attributes(span)
        polls = [
            r for r in emu.requests if r.method == "GET" and r.path.endswith("/" + task.task_id)
        ]
        assert attributes["stablebrowse.task.polls"] == len(polls) >= 1
        # Each poll's HTTP span is a child of its task's span, not of another task's.
        children = [
            c
            for c in _http(spans)
            if c.parent is not None and c.parent.span_id == span.context.span_id
        ]
        assert len(children) == len(polls)
        if index == 3:
            assert attributes["stablebrowse.task.status"] == "failed"
            assert attributes["error.type"] == "TaskFailedError"
            assert span.status.status_code is StatusCode.ERROR
        else:
            assert attributes["stablebrowse.task.status"] == "completed"
            assert "error.type" not in attributes


async def test_waiting_for_an_unknown_task(
    client: AsyncClient, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(NotFoundError):
        await client.tasks.wait("no-such-task")
    (waited,) = [s for s in spans.get_finished_spans() if s.name == "stablebrowse.task"]
    assert _attributes(waited) == {"stablebrowse.task.polls": 1, "error.type": "NotFoundError"}


async def test_tracing_off_is_the_path_without_opentelemetry(
    client: AsyncClient, emu: Emulator, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stablebrowse_async import _tracing

    monkeypatch.setattr(_tracing, "TRACER", None)  # what the guarded import leaves without otel
    done = await client.tasks.run(end_user_id="alice", task="x", poll_timeout=30)
    assert done.status.value == "completed"
    assert spans.get_finished_spans() == ()
    assert not any("traceparent" in r.headers for r in emu.requests)


async def test_task_span_records_failure_and_timeout(
    client: AsyncClient, spans: InMemorySpanExporter
) -> None:
    with pytest.raises(TaskFailedError):
        await client.tasks.run(end_user_id="alice", task="break [[fail]]", poll_timeout=30)
    with pytest.raises(TaskTimeoutError):
        await client.design.run(
            url="https://example.com", end_user_id="alice", poll_interval=0.02, poll_timeout=0.01
        )
    failed, timed_out = [s for s in spans.get_finished_spans() if s.name == "stablebrowse.task"]
    assert _attributes(failed)["stablebrowse.task.status"] == "failed"
    assert _attributes(failed)["error.type"] == "TaskFailedError"
    assert failed.status.status_code is StatusCode.ERROR
    assert _attributes(timed_out)["error.type"] == "TaskTimeoutError"
    assert _attributes(timed_out)["stablebrowse.task.status"] in {"pending", "running"}


async def test_no_secret_in_any_span(emu: Emulator, spans: InMemorySpanExporter) -> None:
    async with AsyncClient(emu.api_key, base_url=emu.url, poll_interval=FAST_POLLS) as client:
        await client.end_users("alice").credentials.set(twitter_auth_token="s3cr3t-cookie")
        await client.tasks.run(end_user_id="alice", task="x", poll_timeout=30)
    exported = spans.get_finished_spans()
    assert exported
    text = "\n".join(span.to_json() for span in exported)
    assert emu.api_key not in text
    assert "s3cr3t-cookie" not in text
    assert "Bearer" not in text


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    env.pop("STABLEBROWSE_LOG", None)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )


def test_nothing_at_all_without_opentelemetry() -> None:
    done = _run_python(
        """
        import asyncio, sys

        class NoOtel:
            def find_spec(self, name, path=None, target=None):
                if name == "opentelemetry" or name.startswith("opentelemetry."):
                    raise ImportError(f"blocked {name}")
                return None

        sys.meta_path.insert(0, NoOtel())
        from stablebrowse_async import AsyncClient, _tracing
        from stablebrowse_async.testing import Emulator

        async def main():
            async with Emulator() as emu, AsyncClient(emu.api_key, base_url=emu.url) as c:
                task = await c.tasks.run(end_user_id="a", task="x", poll_interval=0.05)
                assert task.status.value == "completed"
                assert not any("traceparent" in r.headers for r in emu.requests), emu.requests
            assert _tracing.TRACER is None
            assert not any(m.startswith("opentelemetry") for m in sys.modules)
            print("ok")

        asyncio.run(main())
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_api_without_sdk_sends_no_traceparent_of_its_own() -> None:
    done = _run_python(
        """
        import asyncio
        from opentelemetry import trace
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
        from stablebrowse_async import AsyncClient, _tracing
        from stablebrowse_async.testing import Emulator

        INCOMING = SpanContext(
            trace_id=0x4BF92F3577B34DA6A3CE929D0E0E4736,
            span_id=0x00F067AA0BA902B7,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )

        async def main():
            async with Emulator() as emu, AsyncClient(emu.api_key, base_url=emu.url) as c:
                await c.tasks.list()
                batch = [{"end_user_id": "a", "task": f"t{n}"} for n in range(3)]
                outcomes = [o async for o in c.tasks.run_many(batch, poll_interval=0.05)]
                assert all(o.error is None for o in outcomes), outcomes
                assert _tracing.TRACER is not None
                assert not any("traceparent" in r.headers for r in emu.requests)
                # Dormant: no span kept per task of a batch (nothing made current per poll).
                assert _tracing.batch_task_span(_tracing.TRACER, outcomes[0].task) is None
                # A trace coming in without an SDK is passed on by a batch's polls.
                emu.requests.clear()
                with trace.use_span(NonRecordingSpan(INCOMING)):
                    outcomes = [o async for o in c.tasks.run_many(batch, poll_interval=0.05)]
                    assert _tracing.batch_task_span(_tracing.TRACER, outcomes[0].task)
                polls = [r for r in emu.requests if r.method == "GET"]
                assert polls and all(
                    r.headers["traceparent"].split("-")[1] == f"{INCOMING.trace_id:032x}"
                    for r in emu.requests
                ), emu.requests
            print("ok")

        asyncio.run(main())
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
