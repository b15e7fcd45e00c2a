"""OpenTelemetry: a CLIENT span per HTTP attempt, a span per waited task, ``traceparent`` out.

Active only when ``opentelemetry-api`` is importable (the ``otel`` extra);
the import is tried once, here, and `TRACER` is None otherwise, so the
transport's cost without it is one ``is None`` check per attempt. With the
API but no SDK configured, spans are the API's no-op spans (they still pass
an incoming trace context on in ``traceparent``).

Attribute values are methods, route templates, host, port, status codes,
counts, error class names and task ids/statuses: never a header, body or key.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from ._polling import FetchTask
    from .types import Task

__all__ = [
    "TRACER",
    "BatchTaskSpan",
    "WaitTrace",
    "batch_task_span",
    "end_request",
    "error_type",
    "start_request",
    "task_span",
]

TASK_SPAN = "stablebrowse.task"

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import SpanKind, StatusCode
except ImportError:  # pragma: no cover (tested in a subprocess without opentelemetry)
    TRACER: Tracer | None = None
else:
    # A proxy until the application installs an SDK TracerProvider, then the real one.
    TRACER = trace.get_tracer("stablebrowse_async", __version__)


def start_request(
    tracer: Tracer,
    method: str,
    route: str,
    host: str,
    port: int,
    retry: int,
    headers: Mapping[str, str] | None,
) -> tuple[Span, Mapping[str, str] | None]:
    """Start the CLIENT span of one attempt; return it and `headers` plus ``traceparent``."""
    span = tracer.start_span(f"{method} {route}", kind=SpanKind.CLIENT)
    if span.is_recording():
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.template": route,
            "server.address": host,
            "server.port": port,
        }
        if retry:
            attributes["http.request.resend_count"] = retry
        span.set_attributes(attributes)
    if not span.get_span_context().is_valid:
        # No SDK and no incoming trace: there is nothing to propagate; skip the copy.
        return span, headers
    carrier = dict(headers or {})
    propagate.inject(carrier, context=trace.set_span_in_context(span))
    return span, carrier


def end_request(span: Span, outcome: int | BaseException) -> None:
    """End an attempt's span with its HTTP status, or the error that left it without one."""
    if span.is_recording():
        if isinstance(outcome, int):
            span.set_attribute("http.response.status_code", outcome)
            if outcome >= 400:
                span.set_attribute("error.type", str(outcome))
                span.set_status(StatusCode.ERROR)
        else:
            span.set_attribute("error.type", error_type(outcome))
            span.set_status(StatusCode.ERROR)
    span.end()


def error_type(error: BaseException) -> str:
    """The class name that says what ended an attempt (``error.type``, and the log line)."""
    # A connection that never opened is raised wrapped; name what really happened.
    if type(error).__name__ == "_NotSent":
        error = error.__cause__ or error
    return type(error).__qualname__


class WaitTrace:
    """What a task span sees of a wait: every record fetched, and how many polls that took.

    Pass `fetch` to the poller instead of the resource's ``get``; call `seen`
    with a record obtained otherwise (the submitted task).
    """

    __slots__ = ("_get", "fetch", "last", "polls")

    def __init__(self, get: FetchTask, traced: bool) -> None:
        self._get = get
        self.polls = 0
        self.last: Task | None = None
        self.fetch: FetchTask = self._counted if traced else get

    async def _counted(self, task_id: str) -> Task:
        self.polls += 1
        task = await self._get(task_id)
        self.last = task
        return task

    def seen(self, task: Task) -> None:
        """Record a task obtained without polling (the record `submit` returned)."""
        self.last = task


@contextmanager
def task_span(get: FetchTask) -> Iterator[WaitTrace]:
    """A span (``stablebrowse.task``) around waiting for one task; the HTTP spans are its children.

    At its end it carries ``stablebrowse.task.id``, ``stablebrowse.task.status``
    (the last status seen) and ``stablebrowse.task.polls``; an exception
    (failed task, timeout, API error) sets ``error.type`` to its class name.
    """
    if TRACER is None:
        yield WaitTrace(get, traced=False)
        return
    with TRACER.start_as_current_span(
        TASK_SPAN, record_exception=False, set_status_on_exception=False
    ) as span:
        watch = WaitTrace(get, traced=True)
        try:
            yield watch
        except BaseException as error:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(StatusCode.ERROR)
            raise
        finally:
            if watch.last is not None:
                span.set_attribute("stablebrowse.task.id", watch.last.task_id)
                span.set_attribute("stablebrowse.task.status", watch.last.status.value)
            span.set_attribute("stablebrowse.task.polls", watch.polls)


class BatchTaskSpan:
    """The ``stablebrowse.task`` span of one task of a batch (`run_many`, `wait_many`).

    A batch's tasks are polled by short-lived requests from one engine, not by
    one coroutine each, so the span cannot be "current" for the task's life:
    it starts when the task is accepted (as a child of the caller's context
    when the batch started), is made current around each of the task's polls
    (their HTTP spans become its children), and ends with the task's outcome,
    carrying the same attributes as the span of `tasks.wait`.
    """

    __slots__ = ("polls", "span")

    def __init__(self, tracer: Tracer, task: Task) -> None:
        self.span = tracer.start_span(TASK_SPAN)
        self.polls = 0
        self.span.set_attribute("stablebrowse.task.id", task.task_id)

    def polling(self) -> AbstractContextManager[Any]:
        """Make the span current around one poll of its task."""
        self.polls += 1
        return trace.use_span(self.span, end_on_exit=False)

    def end(self, last: Task, error: BaseException | None) -> None:
        """End the span with the last record seen and the error the task ended with, if any."""
        span = self.span
        span.set_attribute("stablebrowse.task.status", last.status.value)
        span.set_attribute("stablebrowse.task.polls", self.polls)
        if error is not None:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(StatusCode.ERROR)
        span.end()


def batch_task_span(tracer: Tracer, task: Task) -> BatchTaskSpan | None:
    """The `BatchTaskSpan` of `task`, or None when tracing is dormant for it.

    Dormant: the span records nothing and carries no valid context (the API
    without an SDK, and no incoming trace), so making it current around each
    poll would change nothing that any span or ``traceparent`` shows; it
    only costs, per poll, a context attached and detached (with the API
    installed, ~1.7 % of the client's CPU at 10 000 tasks at once). An
    incoming trace context without an SDK stays: its polls pass it on.
    """
    batch_span = BatchTaskSpan(tracer, task)
    span = batch_span.span
    if span.is_recording() or span.get_span_context().is_valid:
        return batch_span
    span.end()
    return None
