"""Task state derived from the clock; outcomes from scripts, directives and schemas."""

from __future__ import annotations

import pytest

from stablebrowse_async.testing import Emulator, Outcome, VirtualClock

from .conftest import Raw

pytestmark = pytest.mark.anyio


async def test_virtual_clock_drives_pending_running_completed(api: Raw, emu: Emulator) -> None:
    clock = emu.clock
    assert isinstance(clock, VirtualClock)
    _status, sub, _ = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "buy milk"})
    task_id = sub["taskId"]
    rec = (await api.call("GET", f"/tasks/{task_id}"))[1]
    assert rec["status"] == "pending"
    assert rec["result"] is None
    assert rec["updatedAt"] == rec["createdAt"] == "2027-01-15T08:00:00.000Z"
    clock.advance(1.0)
    rec = (await api.call("GET", f"/tasks/{task_id}"))[1]
    assert rec["status"] == "running"
    assert rec["updatedAt"] == "2027-01-15T08:00:01.000Z"
    clock.advance(8.999)
    assert (await api.call("GET", f"/tasks/{task_id}"))[1]["status"] == "running"
    clock.advance(0.001)
    rec = (await api.call("GET", f"/tasks/{task_id}"))[1]
    assert rec["status"] == "completed"
    assert rec["result"] == "Done: buy milk"
    assert rec["durationMs"] == 10_000
    assert rec["updatedAt"] == "2027-01-15T08:00:10.000Z"
    assert 1 <= rec["totalSteps"] <= 25
    assert len(rec["stepSummaries"]) == rec["totalSteps"]
    assert set(rec["stepSummaries"][0]) == {"n", "type", "msg", "success"}
    assert rec["visitedUrls"][0].startswith("https://example.com")
    assert "error" not in rec


async def test_failure_rate_and_fail_directive_give_failed_with_error(emu: Emulator) -> None:
    emu.clock.advance(0)  # type: ignore[attr-defined]
    task = emu.create_task("do it [[fail]]")
    emu.clock.advance(10)  # type: ignore[attr-defined]
    rec = emu.task_record(str(task["taskId"]))
    assert rec["status"] == "failed"
    assert rec["error"]
    assert rec["result"] is None
    assert rec["stepSummaries"][-1]["success"] is False
    async with Emulator(clock=VirtualClock(), failure_rate=1.0, durations=(1, 1)) as failing:
        task = failing.create_task("anything")
        failing.clock.advance(2)  # type: ignore[attr-defined]
        assert failing.task_record(str(task["taskId"]))["status"] == "failed"


async def test_directives_set_duration_status_and_result(emu: Emulator) -> None:
    clock = emu.clock
    assert isinstance(clock, VirtualClock)
    quick = emu.create_task("quick [[duration=2.5]] [[result=forty two]]")
    cancelled = emu.create_task("stop [[status=cancelled]]")
    paused = emu.create_task("hold [[status=paused_by_operator]]")
    clock.advance(2.5)
    rec = emu.task_record(str(quick["taskId"]))
    assert rec["status"] == "completed"
    assert rec["result"] == "forty two"
    assert rec["durationMs"] == 2500
    assert rec["task"] == "quick [[duration=2.5]] [[result=forty two]]"
    clock.advance(10)
    assert emu.task_record(str(cancelled["taskId"]))["status"] == "cancelled"
    assert emu.task_record(str(paused["taskId"]))["status"] == "paused_by_operator"


async def test_script_overrides_outcome_and_can_change_at_run_time(api: Raw, emu: Emulator) -> None:
    seen: list[dict[str, object]] = []

    def script(body: dict[str, object]) -> Outcome | None:
        seen.append(body)
        if body.get("task") == "special":
            return Outcome(
                duration=1.0, result={"answer": 42}, steps=3, visited_urls=["https://a.example"]
            )
        return None

    emu.set_script(script)
    _, special, _ = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "special"})
    _, normal, _ = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "normal"})
    emu.clock.advance(1.0)  # type: ignore[attr-defined]
    rec = emu.task_record(special["taskId"])
    assert rec["status"] == "completed"
    assert rec["result"] == {"answer": 42}
    assert rec["totalSteps"] == 3
    assert rec["visitedUrls"] == ["https://a.example"]
    assert emu.task_record(normal["taskId"])["status"] == "running"
    assert [b["task"] for b in seen] == ["special", "normal"]
    emu.set_script(lambda body: Outcome(status="failed", error="boom", duration=0))
    _, failed, _ = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "x"})
    assert emu.task_record(failed["taskId"])["error"] == "boom"


async def test_schema_gives_conforming_structured_content(api: Raw, emu: Emulator) -> None:
    schema = {
        "type": "object",
        "properties": {
            "title": {"type": "string"},
            "price": {"type": "number", "minimum": 1, "maximum": 5},
            "stock": {"type": "integer"},
            "inStock": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "size": {"enum": ["S", "M", "L"]},
            "seller": {
                "type": "object",
                "properties": {"name": {"type": "string"}},
                "required": ["name"],
            },
        },
        "required": ["title", "price"],
    }
    _, sub, _ = await api.call(
        "POST",
        "/tasks",
        json={"endUserId": "a", "task": "x", "schema": schema, "include_html_dump": True},
    )
    rec = emu.task_record(sub["taskId"])
    assert rec["structured_content"] is None
    assert rec["html_dump"] is None
    emu.clock.advance(10)  # type: ignore[attr-defined]
    rec = emu.task_record(sub["taskId"])
    content = rec["structured_content"]
    assert isinstance(content["title"], str)
    assert 1 <= content["price"] <= 5
    assert isinstance(content["stock"], int)
    assert not isinstance(content["stock"], bool)
    assert isinstance(content["inStock"], bool)
    assert all(isinstance(t, str) for t in content["tags"])
    assert content["size"] in ("S", "M", "L")
    assert isinstance(content["seller"]["name"], str)
    assert rec["html_dump"].startswith("<!DOCTYPE html>")
    _, plain, _ = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "x"})
    emu.clock.advance(10)  # type: ignore[attr-defined]
    rec = emu.task_record(plain["taskId"])
    assert "structured_content" not in rec
    assert "html_dump" not in rec


async def test_design_job_lifecycle_and_results(api: Raw, emu: Emulator) -> None:
    status, job, _ = await api.call(
        "POST",
        "/design/extract",
        json={
            "url": "https://brand.example",
            "endUserId": "a",
            "extractors": ["colors", "fonts"],
            "enableIpRotation": True,
        },
    )
    assert status == 202
    assert set(job) == {"taskId", "sessionId", "status", "extractors", "createdAt"}
    assert job["status"] == "pending"
    assert job["extractors"] == ["colors", "fonts"]
    rec = (await api.call("GET", f"/tasks/{job['taskId']}"))[1]
    assert rec["task"] == "[design] https://brand.example"
    assert rec["design"] is None
    emu.clock.advance(10)  # type: ignore[attr-defined]
    rec = (await api.call("GET", f"/tasks/{job['taskId']}"))[1]
    assert rec["status"] == "completed"
    design = rec["design"]
    assert design["url"] == "https://brand.example"
    assert design["extractors"] == ["colors", "fonts"]
    assert design["durationMs"] == 10_000
    assert set(design["results"]) == {"colors", "fonts"}
    assert design["results"]["colors"][0]["hex"].startswith("#")
    _, job, _ = await api.call(
        "POST", "/design/extract", json={"url": "http://b.example", "endUserId": "a"}
    )
    assert job["extractors"] == ["images", "fonts", "colors", "icons", "tokens", "logo"]


async def test_same_seed_same_outcomes() -> None:
    records = []
    for _ in range(2):
        async with Emulator(clock=VirtualClock(), seed=42) as emu:
            task = emu.create_task("same")
            emu.clock.advance(100)  # type: ignore[attr-defined]
            rec = emu.task_record(str(task["taskId"]))
            records.append(
                (rec["taskId"], rec["durationMs"], rec["totalSteps"], rec["stepSummaries"])
            )
    assert records[0] == records[1]


async def test_real_clock_speed_makes_tasks_finish_fast() -> None:
    import anyio

    from stablebrowse_async.testing import RealClock

    async with Emulator(clock=RealClock(speed=100), durations=(2.0, 2.0)) as emu:
        task = emu.create_task("fast")
        await anyio.sleep(0.05)
        assert emu.task_record(str(task["taskId"]))["status"] == "completed"
