"""The typer application behind ``stablebrowse``: a thin shell over `AsyncClient`.

Every command builds one client inside ``asyncio.run``, calls the SDK, and
hands the answer to `render` (panels and tables, or JSON with ``--json``),
which shows every value from the user or the server as inert text (`safe`).
Errors become one line on stderr and an exit code (see `exits`); secrets are
never printed, except the new key from ``api-keys create``, once, on purpose.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import attrs
import typer

from stablebrowse_async import (
    CREDENTIAL_FIELDS,
    AsyncClient,
    SessionTasks,
    StablebrowseError,
    Task,
    TaskFailedError,
    TaskStatus,
    TaskUpdate,
    __version__,
)
from stablebrowse_async._convert import to_camel
from stablebrowse_async._polling import check_submit_rate

from . import exits, render, safe
from .batch import InputError, run_batch

T = TypeVar("T")


_CREDENTIAL_KEYS = {
    **{n: n for n in CREDENTIAL_FIELDS},
    **{to_camel(n): n for n in CREDENTIAL_FIELDS},
}

EXIT_CODES_HELP = (
    "Exit codes: 0 ok; 1 task failed / batch had failed lines; 2 usage or bad input; "
    "3 authentication or permission; 4 not found; 5 rate limit or quota; "
    "6 network, timeout or server unavailable; 130 interrupted."
)

app = typer.Typer(
    name="stablebrowse",
    help="Command-line client for the StableBrowse API (hosted browser agent).\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
credentials_app = typer.Typer(help="Per-end-user platform cookies (write-only secrets).")
api_keys_app = typer.Typer(help="Mint, list and revoke API keys (needs a dashboard token).")
app.add_typer(credentials_app, name="credentials")
app.add_typer(api_keys_app, name="api-keys")


@attrs.define
class Settings:
    """Global options, resolved once by the callback."""

    api_key: str | None = None
    base_url: str | None = None
    timeout: float | None = 30.0
    max_retries: int = 2
    poll_interval: float | None = None
    json: bool = False


def _fail(code: int, message: str) -> NoReturn:
    render.err_console().print(render.error_line(message), soft_wrap=True)
    raise typer.Exit(code)


def _settings(ctx: typer.Context) -> Settings:
    obj = ctx.find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


def _client(settings: Settings, *, dashboard: bool = False) -> AsyncClient:
    key = settings.api_key
    if key is None and dashboard:
        key = os.environ.get("STABLEBROWSE_DASHBOARD_TOKEN") or None
    if key is None and not os.environ.get("STABLEBROWSE_API_KEY"):
        what = "a dashboard token" if dashboard else "an API key"
        env = "STABLEBROWSE_DASHBOARD_TOKEN" if dashboard else "STABLEBROWSE_API_KEY"
        _fail(exits.AUTH, f"no credentials: pass {what} with --api-key or set {env}")
    return AsyncClient(
        key,
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=settings.max_retries,
        poll_interval=settings.poll_interval,
    )


def _call(
    ctx: typer.Context,
    action: Callable[[AsyncClient], Awaitable[T]],
    *,
    dashboard: bool = False,
) -> T:
    """Run `action` with a fresh client under ``asyncio.run``; map errors to exit codes."""
    settings = _settings(ctx)

    async def main() -> T:
        async with _client(settings, dashboard=dashboard) as client:
            return await action(client)

    try:
        return asyncio.run(main())
    except typer.Exit:
        raise
    except KeyboardInterrupt:
        _fail(exits.INTERRUPTED, "interrupted")
    except (StablebrowseError, ValueError, TypeError, OSError) as error:
        code, message = exits.classify(error)
        _fail(code, message)


def _show_task(task: Task, as_json: bool) -> None:
    if as_json:
        render.print_json(task.raw)
    else:
        render.out_console().print(render.task_panel(task))


def _finish_task(task: Task, as_json: bool) -> None:
    """Print a terminal task; exit 1 when it did not complete."""
    _show_task(task, as_json)
    if task.status is not TaskStatus.COMPLETED:
        detail = f": {task.error}" if task.error else ""
        _fail(exits.FAILED, f"task {task.task_id} {task.status.value}{detail}")


async def _wait_showing_progress(
    wait: Callable[[Callable[[TaskUpdate], None]], Awaitable[Task]],
    waiting: str,
    *,
    quiet: bool,
    follow: bool,
) -> Task:
    """Run `wait(on_update)` (``tasks.run`` or ``tasks.wait``), showing its updates.

    The library does all the polling, on its one schedule: the spinner (on
    stderr: status, step count, time) and ``--follow``'s step lines are drawn
    from its ``on_update`` callback, never from extra requests. A failed or
    cancelled task is returned, for the panel.
    """
    printer = render.StepPrinter() if follow and not quiet else None
    live: render.LiveStatus | None = None

    def on_update(update: TaskUpdate) -> None:
        if live is not None:
            live.task = update.task
        if printer is not None:
            printer(update.new_steps)

    try:
        if quiet or printer is not None:
            return await wait(on_update)
        live = render.LiveStatus(waiting)
        with render.err_console().status(live, spinner="dots"):
            return await wait(on_update)
    except TaskFailedError as failed:
        return failed.task


# -- global options ---------------------------------------------------------------------


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stablebrowse (stablebrowse-async) {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            help="API key (sb_live_...) or dashboard token. Default: $STABLEBROWSE_API_KEY.",
            show_default=False,
        ),
    ] = None,
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="API root. Default: $STABLEBROWSE_BASE_URL, then https://api.stablebrowse.ai/v1.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds for one HTTP attempt.")] = 30.0,
    max_retries: Annotated[int, typer.Option(help="Retries per request (0 disables).")] = 2,
    poll_interval: Annotated[
        float | None,
        typer.Option(
            help="Cap in seconds between polls of a running task (default: the SDK's schedule).",
            envvar="STABLEBROWSE_POLL_INTERVAL",
        ),
    ] = None,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print JSON instead of tables and panels.")
    ] = False,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Command-line client for the StableBrowse API."""
    if timeout <= 0 or max_retries < 0 or (poll_interval is not None and poll_interval <= 0):
        raise typer.BadParameter("--timeout and --poll-interval must be > 0, --max-retries >= 0")
    ctx.obj = Settings(
        api_key=api_key,
        base_url=base_url,
        timeout=timeout,
        max_retries=max_retries,
        poll_interval=poll_interval,
        json=json_output,
    )


JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
FollowOpt = Annotated[
    bool,
    typer.Option(
        "--follow",
        "-f",
        help="Print each step as the agent takes it (one plain line per step when piped), "
        "then the result. Steps come from the same polls as the wait: no extra request. "
        "Not with --json (its record lists every step).",
    ),
]
PollTimeoutOpt = Annotated[
    float | None,
    typer.Option(help="Seconds to wait for the task (default 300).", show_default=False),
]


def _as_json(ctx: typer.Context, flag: bool) -> bool:
    return flag or _settings(ctx).json


# -- tasks ------------------------------------------------------------------------------


@app.command()
def run(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="What the browser agent should do.")],
    end_user: Annotated[str, typer.Option("--end-user", help="Your end user's id.")],
    session: Annotated[str | None, typer.Option("--session", help="Continue this session.")] = None,
    start_url: Annotated[str | None, typer.Option(help="Open this URL first.")] = None,
    schema: Annotated[
        Path | None,
        typer.Option(help="JSON Schema file; the answer then appears as structured content."),
    ] = None,
    max_steps: Annotated[int | None, typer.Option(help="At most this many steps (1-25).")] = None,
    html: Annotated[bool, typer.Option("--html", help="Ask for the final page's HTML.")] = False,
    json_flag: JsonOpt = False,
    poll_timeout: PollTimeoutOpt = None,
    follow: FollowOpt = False,
) -> None:
    """Submit a task, show its live status, print the result (exit 1 if it fails)."""
    as_json = _as_json(ctx, json_flag)
    schema_data = _read_json_object(schema, "--schema") if schema is not None else None

    async def action(client: AsyncClient) -> Task:
        def run_task(on_update: Callable[[TaskUpdate], None]) -> Awaitable[Task]:
            return client.tasks.run(
                end_user_id=end_user,
                task=task,
                session_id=session,
                start_url=start_url,
                schema=schema_data,
                max_steps=max_steps,
                include_html_dump=True if html else None,
                poll_timeout=poll_timeout,
                on_update=on_update,
            )

        return await _wait_showing_progress(run_task, "submitting", quiet=as_json, follow=follow)

    _finish_task(_call(ctx, action), as_json)


@app.command()
def get(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id.")],
    json_flag: JsonOpt = False,
) -> None:
    """Print a task's current record."""
    task = _call(ctx, lambda client: client.tasks.get(task_id))
    _show_task(task, _as_json(ctx, json_flag))


@app.command()
def wait(
    ctx: typer.Context,
    task_id: Annotated[str, typer.Argument(metavar="ID", help="Task id.")],
    json_flag: JsonOpt = False,
    poll_timeout: PollTimeoutOpt = None,
    follow: FollowOpt = False,
) -> None:
    """Wait for an existing task to end and print it (exit 1 if it failed)."""
    as_json = _as_json(ctx, json_flag)

    async def action(client: AsyncClient) -> Task:
        def wait_task(on_update: Callable[[TaskUpdate], None]) -> Awaitable[Task]:
            return client.tasks.wait(task_id, poll_timeout=poll_timeout, on_update=on_update)

        return await _wait_showing_progress(
            wait_task, f"task {task_id}", quiet=as_json, follow=follow
        )

    _finish_task(_call(ctx, action), as_json)


@app.command("list")
def list_sessions(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=100, help="At most this many (1-100).")] = 50,
    json_flag: JsonOpt = False,
) -> None:
    """List your sessions, newest first."""
    sessions = _call(ctx, lambda client: client.tasks.list(limit=limit))
    if _as_json(ctx, json_flag):
        render.print_json([s.raw for s in sessions])
        return
    render.out_console().print(render.sessions_table(sessions))


@app.command()
def session(
    ctx: typer.Context,
    session_id: Annotated[str, typer.Argument(metavar="ID", help="Session id.")],
    json_flag: JsonOpt = False,
) -> None:
    """Print a session (conversation) and its tasks, oldest first."""
    found: SessionTasks = _call(ctx, lambda client: client.sessions.get(session_id))
    if _as_json(ctx, json_flag):
        render.print_json(found.raw)
        return
    render.out_console().print(render.session_table(found))


@app.command()
def batch(
    ctx: typer.Context,
    input_file: Annotated[
        str, typer.Argument(metavar="TASKS.jsonl", help="One JSON request per line; - for stdin.")
    ],
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Results, one JSON line per input line.")
    ],
    concurrency: Annotated[
        int, typer.Option(min=1, help="HTTP requests in flight (submissions and polls).")
    ] = 64,
    max_in_flight: Annotated[
        int,
        typer.Option(min=1, help="Tasks submitted but not yet finished (bounds rework on resume)."),
    ] = 1000,
    submit_rate: Annotated[
        float | None,
        typer.Option(
            help="Submissions per second at most, evenly spaced (default: as fast as "
            "connections allow). Near the client's request rate, a batch of thousands of "
            "short tasks is detected sooner at the same wall time.",
            show_default=False,
        ),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            help="Skip input lines already present in --out, wait for the ones that were in "
            "flight (journaled in OUT.submitted) instead of resubmitting them, append the rest."
        ),
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing --out.")] = False,
    end_user: Annotated[
        str | None, typer.Option("--end-user", help="end_user_id for lines that have none.")
    ] = None,
    poll_timeout: PollTimeoutOpt = None,
    json_flag: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    progress: Annotated[bool, typer.Option(help="Show the progress bar (on stderr).")] = True,
) -> None:
    """Run a JSONL file of tasks concurrently; exit 1 if any line failed."""
    try:
        check_submit_rate(submit_rate)  # run_many's own check, before any file is opened
    except ValueError as error:
        raise typer.BadParameter(str(error), param_hint="'--submit-rate'") from None
    as_json = _as_json(ctx, json_flag)
    err = render.err_console()

    async def action(client: AsyncClient) -> Any:
        return await run_batch(
            client,
            input_file,
            out,
            concurrency=concurrency,
            max_in_flight=max_in_flight,
            submit_rate=submit_rate,
            resume=resume,
            overwrite=overwrite,
            poll_timeout=poll_timeout,
            default_end_user=end_user,
            console=err if progress else None,
        )

    try:
        stats = _call(ctx, action)
    except typer.Exit as stop:
        if stop.exit_code == exits.INTERRUPTED:
            err.print(
                safe.compose(
                    "results so far are in {out}; continue with the same command plus --resume",
                    out=str(out),
                ),
                soft_wrap=True,
            )
        raise
    except InputError as error:
        _fail(exits.USAGE, str(error))
    summary = stats.as_dict()
    if as_json:
        render.print_json(summary)
    else:
        render.batch_summary(err, stats, out)
    if stats.fatal is not None:
        code, message = exits.classify(stats.fatal)
        _fail(code, f"batch stopped: {message}; fix it, then rerun with --resume")
    if stats.failed:
        raise typer.Exit(exits.FAILED)


# -- credentials --------------------------------------------------------------------------


def _read_json_object(path: Path | str, what: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(path) == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as error:
        _fail(exits.USAGE, f"{what}: cannot read {path}: {error.strerror or error}")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        _fail(exits.USAGE, f"{what}: invalid JSON ({error.msg}, line {error.lineno})")
    if not isinstance(data, dict):
        _fail(exits.USAGE, f"{what}: expected a JSON object")
    return data


def _cred_option(name: str) -> Any:
    return typer.Option(
        "--" + name.replace("_", "-"),
        help=f"{to_camel(name)} cookie value.",
        show_default=False,
    )


def credentials_set(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER", help="Your end user's id.")],
    from_file: Annotated[
        str | None,
        typer.Option(
            "--from-file",
            help="JSON object of credentials (snake_case or camelCase keys); - reads stdin. "
            "Safer than options, which land in shell history.",
        ),
    ] = None,
    **cookies: str | None,
) -> None:
    """Store platform cookies for an end user. Values are never printed."""
    values: dict[str, str] = {}
    if from_file is not None:
        for key, value in _read_json_object(from_file, "--from-file").items():
            name = _CREDENTIAL_KEYS.get(key)
            if name is None:
                _fail(exits.USAGE, f"--from-file: unknown credential field {key!r}")
            if not isinstance(value, str):
                # Name the field, never echo the value.
                _fail(exits.USAGE, f"--from-file: {key} must be a string")
            values[name] = value
    values.update({name: value for name, value in cookies.items() if value is not None})
    if not values:
        _fail(exits.USAGE, "give at least one credential (an option, or --from-file)")

    async def action(client: AsyncClient) -> None:
        await client.end_users(user).credentials.set(**values)

    _call(ctx, action)
    render.err_console().print(
        safe.compose(
            "stored {count} credential field(s) for {user}: {fields}",
            count=len(values),
            user=user,
            fields=", ".join(sorted(values)),
        ),
        soft_wrap=True,
    )


# One --option per credential field, from the one list (`CredentialFields`).
_set_params = list(inspect.signature(credentials_set).parameters.values())[:-1]  # not **cookies
_set_params += [
    inspect.Parameter(
        name,
        inspect.Parameter.KEYWORD_ONLY,
        default=None,
        annotation=Annotated[str | None, _cred_option(name)],
    )
    for name in CREDENTIAL_FIELDS
]
setattr(  # noqa: B010 (mypy does not know functions take __signature__)
    credentials_set, "__signature__", inspect.Signature(_set_params, return_annotation=None)
)
credentials_app.command("set")(credentials_set)


@credentials_app.command("get")
def credentials_get(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER", help="Your end user's id.")],
    json_flag: JsonOpt = False,
) -> None:
    """Show which platforms have credentials for an end user (flags only)."""
    status = _call(ctx, lambda client: client.end_users(user).credentials.get())
    if _as_json(ctx, json_flag):
        render.print_json(status.raw)
        return
    render.out_console().print(render.credentials_table(user, status))


@credentials_app.command("delete")
def credentials_delete(
    ctx: typer.Context,
    user: Annotated[str, typer.Argument(metavar="USER", help="Your end user's id.")],
    field: Annotated[
        list[str] | None,
        typer.Option("--field", help="Clear only this field (repeatable); default: all."),
    ] = None,
) -> None:
    """Clear an end user's credentials (all of them, or the --field ones)."""
    fields = list(field) if field else None

    async def action(client: AsyncClient) -> None:
        await client.end_users(user).credentials.delete(fields=fields)

    _call(ctx, action)
    what = ", ".join(fields) if fields else "all credentials"
    render.err_console().print(
        safe.compose("cleared {what} for {user}", what=what, user=user), soft_wrap=True
    )


# -- api keys -----------------------------------------------------------------------------


@api_keys_app.command("create")
def api_keys_create(
    ctx: typer.Context,
    label: Annotated[str | None, typer.Option(help="A name for the key.")] = None,
    json_flag: JsonOpt = False,
) -> None:
    """Mint an API key and print it once: store it now, it cannot be shown again."""
    created = _call(ctx, lambda client: client.api_keys.create(label=label), dashboard=True)
    if _as_json(ctx, json_flag):
        render.print_json(
            {
                "key": created.key,
                "prefix": created.prefix,
                "label": created.label,
                "createdAt": created.created_at,
            }
        )
        return
    err = render.err_console()
    err.print("New API key (shown once; store it now):", markup=False)
    render.print_plain(created.key)
    err.print(
        safe.compose(
            "prefix {prefix}, label {label}", prefix=created.prefix, label=created.label or "-"
        )
    )


@api_keys_app.command("list")
def api_keys_list(ctx: typer.Context, json_flag: JsonOpt = False) -> None:
    """List the business's keys (metadata only)."""
    keys = _call(ctx, lambda client: client.api_keys.list(), dashboard=True)
    if _as_json(ctx, json_flag):
        render.print_json([k.raw for k in keys])
        return
    render.out_console().print(render.api_keys_table(keys))


@api_keys_app.command("revoke")
def api_keys_revoke(
    ctx: typer.Context,
    prefix: Annotated[str, typer.Argument(metavar="PREFIX", help="The key's 16-char prefix.")],
) -> None:
    """Revoke a key at once and for good."""
    _call(ctx, lambda client: client.api_keys.revoke(prefix), dashboard=True)
    render.err_console().print(safe.compose("revoked {prefix}", prefix=prefix))


# -- emulator -----------------------------------------------------------------------------


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def emulator(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 picks a free one).")] = 8765,
) -> None:
    """Run the local StableBrowse emulator (extra arguments go to it; see its --help)."""
    try:
        from stablebrowse_async.testing._console import serve
    except ImportError as error:
        _fail(exits.USAGE, f"the emulator is not available: {error}")
    code = serve(["--port", str(port), *ctx.args])
    raise typer.Exit(code)
