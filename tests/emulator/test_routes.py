"""Every route and every status code of API.md, through raw HTTP."""

from __future__ import annotations

import re

import pytest

from stablebrowse_async.testing import Emulator

from .conftest import Raw

pytestmark = pytest.mark.anyio

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def submit(api: Raw, **body: object) -> dict[str, object]:
    status, answer, _ = await api.call("POST", "/tasks", json={"endUserId": "alice", **body})
    assert status == 201, answer
    return answer  # type: ignore[no-any-return]


async def test_submit_returns_201_pending_with_ids_and_iso_time(api: Raw) -> None:
    status, body, headers = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "x"})
    assert status == 201
    assert set(body) == {"taskId", "sessionId", "status", "createdAt"}
    assert body["status"] == "pending"
    assert ISO.match(body["createdAt"])
    assert headers["Content-Type"].startswith("application/json")
    assert headers["X-Request-Id"]


async def test_get_task_record_has_every_documented_field(api: Raw, emu: Emulator) -> None:
    sub = await submit(api, task="find the price", startUrl="https://shop.example")
    status, rec, _ = await api.call("GET", f"/tasks/{sub['taskId']}")
    assert status == 200
    for field in [
        "taskId",
        "sessionId",
        "endUserId",
        "businessId",
        "status",
        "task",
        "result",
        "totalSteps",
        "durationMs",
        "visitedUrls",
        "stepSummaries",
        "createdAt",
        "updatedAt",
    ]:
        assert field in rec
    assert rec["businessId"] == emu.business.id
    assert rec["endUserId"] == "alice"
    assert rec == emu.task_record(str(sub["taskId"]))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"task": "x"}, "endUserId"),
        ({"endUserId": "", "task": "x"}, "endUserId"),
        ({"endUserId": "a" * 257, "task": "x"}, "256"),
        ({"endUserId": 5, "task": "x"}, "endUserId"),
        ({"endUserId": "a"}, "task"),
        ({"endUserId": "a", "task": "   "}, "blank"),
        ({"endUserId": "a", "task": 3}, "task"),
        ({"endUserId": "a", "task": "x", "maxSteps": 0}, "maxSteps"),
        ({"endUserId": "a", "task": "x", "maxSteps": True}, "maxSteps"),
        ({"endUserId": "a", "task": "x", "maxSteps": 2.5}, "maxSteps"),
        ({"endUserId": "a", "task": "x", "schema": "nope"}, "schema"),
        ({"endUserId": "a", "task": "x", "schema": []}, "schema"),
        ({"endUserId": "a", "task": "x", "include_html_dump": "yes"}, "include_html_dump"),
        ({"endUserId": "a", "task": "x", "sessionId": 4}, "sessionId"),
        ({"endUserId": "a", "task": "x", "startUrl": 4}, "startUrl"),
    ],
)
async def test_submit_validation_is_400_with_clear_error(
    api: Raw, emu: Emulator, body: dict[str, object], message: str
) -> None:
    status, answer, _ = await api.call("POST", "/tasks", json=body)
    assert status == 400
    assert message in answer["error"]
    assert emu.tasks_created() == 0


async def test_exactly_256_char_end_user_and_max_steps_clamped(api: Raw, emu: Emulator) -> None:
    sub = await submit(api, task="x", endUserId="a" * 256, maxSteps=1000)
    emu.clock.advance(100)  # type: ignore[attr-defined]
    assert emu.task_record(str(sub["taskId"]))["totalSteps"] <= 25


async def test_body_errors(api: Raw) -> None:
    assert (
        await api.call(
            "POST", "/tasks", data=b"{nope", headers={"Content-Type": "application/json"}
        )
    )[0] == 400
    assert (await api.call("POST", "/tasks", json=[1, 2]))[0] == 400
    assert (await api.call("POST", "/tasks"))[0] == 400
    status, body, _ = await api.call(
        "POST",
        "/tasks",
        data=b'{"endUserId":"a","task":"x"}',
        headers={"Content-Type": "text/plain"},
    )
    assert status == 400
    assert "Content-Type" in body["error"]


async def test_get_without_body_accepts_any_content_type(api: Raw) -> None:
    status, _, _ = await api.call("GET", "/tasks", headers={"Content-Type": "application/json"})
    assert status == 200
    status, _, _ = await api.call("GET", "/tasks", headers={"Content-Type": "text/weird"})
    assert status == 200


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic abc", "Bearer sb_live_unknown", "Bearer eyJnope"],
)
async def test_missing_malformed_or_unknown_auth_is_401(api: Raw, header: str | None) -> None:
    raw = api.as_(None)
    headers = {} if header is None else {"Authorization": header}
    status, body, _ = await raw.call("GET", "/tasks", headers=headers)
    assert status == 401
    assert body["error"]


async def test_unknown_ids_are_404(api: Raw) -> None:
    assert (await api.call("GET", "/tasks/nope"))[0] == 404
    assert (await api.call("GET", "/sessions/nope"))[0] == 404
    status, body, _ = await api.call(
        "POST", "/tasks", json={"endUserId": "a", "task": "x", "sessionId": "nope"}
    )
    assert status == 404
    assert "nope" in body["error"]


async def test_unknown_path_is_404_json(api: Raw) -> None:
    for path in ("/nothing", "/tasks/a/b", "/tasks/", "/end-users/a/other"):
        status, body, headers = await api.call("GET", path)
        assert status == 404, path
        assert headers["Content-Type"].startswith("application/json")
        assert body["error"]


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/tasks/abc", "GET"),
        ("PATCH", "/tasks", "GET, POST"),
        ("DELETE", "/tasks", "GET, POST"),
        ("POST", "/sessions/abc", "GET"),
        ("POST", "/end-users/a/credentials", "GET, PUT, DELETE"),
        ("PUT", "/api-keys", "GET, POST"),
        ("GET", "/api-keys/sb_live_abcdefgh", "DELETE"),
        ("GET", "/design/extract", "POST"),
    ],
)
async def test_wrong_verb_is_405_with_allow(api: Raw, method: str, path: str, allow: str) -> None:
    status, body, headers = await api.call(method, path)
    assert status == 405
    assert headers["Allow"] == allow
    assert body["error"]


async def test_sessions_continue_and_read_oldest_first(api: Raw, emu: Emulator) -> None:
    first = await submit(api, task="one")
    emu.clock.advance(1)  # type: ignore[attr-defined]
    second = await submit(api, task="two", sessionId=first["sessionId"])
    assert second["sessionId"] == first["sessionId"]
    status, body, _ = await api.call("GET", f"/sessions/{first['sessionId']}")
    assert status == 200
    assert body["sessionId"] == first["sessionId"]
    assert [t["task"] for t in body["tasks"]] == ["one", "two"]


async def test_list_newest_first_with_summary_fields_and_limits(api: Raw, emu: Emulator) -> None:
    ids = []
    for i in range(5):
        ids.append((await submit(api, task=f"t{i}"))["sessionId"])
        emu.clock.advance(1)  # type: ignore[attr-defined]
    await submit(api, task="again", sessionId=ids[0])
    status, body, _ = await api.call("GET", "/tasks?limit=3")
    assert status == 200
    sessions = body["sessions"]
    assert [s["sessionId"] for s in sessions] == [ids[0], ids[4], ids[3]]
    top = sessions[0]
    assert top["taskCount"] == 2
    assert top["lastTask"] == "again"
    assert top["lastStatus"] == "pending"
    assert {"sessionId", "endUserId", "createdAt", "updatedAt", "taskCount"} <= set(top)
    stamps = [s["updatedAt"] for s in sessions]
    assert stamps == sorted(stamps, reverse=True)
    assert len((await api.call("GET", "/tasks"))[1]["sessions"]) == 5
    for bad in ("0", "-1", "abc", "1.5", ""):
        assert (await api.call("GET", f"/tasks?limit={bad}"))[0] == 400, bad


async def test_list_limit_defaults_to_50_and_caps_at_100(api: Raw, emu: Emulator) -> None:
    for i in range(120):
        emu.create_task(f"t{i}")
    assert len((await api.call("GET", "/tasks"))[1]["sessions"]) == 50
    assert len((await api.call("GET", "/tasks?limit=1000"))[1]["sessions"]) == 100


async def test_credentials_upsert_get_delete(api: Raw) -> None:
    path = "/end-users/alice/credentials"
    status, body, _ = await api.call("GET", path)
    assert status == 200
    assert body == {
        "endUserId": "alice",
        "platforms": dict.fromkeys(("twitter", "reddit", "tiktok", "youtube", "instagram"), False),
    }
    assert (await api.call("PUT", path, json={"twitterAuthToken": "s1", "redditSession": "s2"}))[
        1
    ] == {"ok": True}
    assert (await api.call("PUT", path, json={"youtubeSid": "s3"}))[0] == 200
    _, body, _ = await api.call("GET", path)
    assert body["platforms"] == {
        "twitter": True,
        "reddit": True,
        "tiktok": False,
        "youtube": True,
        "instagram": False,
    }
    assert "s1" not in str(body)
    assert (await api.call("DELETE", path, json={"fields": ["twitterAuthToken"]}))[1] == {
        "ok": True
    }
    _, body, _ = await api.call("GET", path)
    assert body["platforms"]["twitter"] is False
    assert body["platforms"]["reddit"] is True
    assert (await api.call("DELETE", path))[1] == {"ok": True}
    _, body, _ = await api.call("GET", path)
    assert not any(body["platforms"].values())


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("PUT", {}),
        ("PUT", {"unknownField": "x"}),
        ("PUT", {"twitterCt0": 5}),
        ("PUT", ["twitterCt0"]),
        ("DELETE", {"fields": "twitterCt0"}),
        ("DELETE", {"fields": ["nope"]}),
        ("DELETE", {"fields": [1]}),
    ],
)
async def test_credential_validation_is_400(api: Raw, method: str, body: object) -> None:
    status, answer, _ = await api.call(method, "/end-users/alice/credentials", json=body)
    assert status == 400
    assert answer["error"]


async def test_credentials_end_user_id_too_long_is_400(api: Raw) -> None:
    assert (await api.call("GET", "/end-users/" + "a" * 257 + "/credentials"))[0] == 400


async def test_api_keys_mint_list_revoke_with_dashboard_token(api: Raw, emu: Emulator) -> None:
    dash = api.as_(emu.dashboard_token)
    status, minted, _ = await dash.call("POST", "/api-keys", json={"label": "prod"})
    assert status == 201
    assert minted["key"].startswith("sb_live_")
    assert minted["prefix"] == minted["key"][:16]
    assert minted["label"] == "prod"
    assert ISO.match(minted["createdAt"])
    assert (await dash.call("POST", "/api-keys"))[0] == 201  # body optional
    new = api.as_(minted["key"])
    assert (await new.call("GET", "/tasks"))[0] == 200
    status, listed, _ = await dash.call("GET", "/api-keys")
    assert status == 200
    by_prefix = {k["prefix"]: k for k in listed["keys"]}
    assert set(by_prefix[minted["prefix"]]) == {
        "prefix",
        "label",
        "createdAt",
        "lastUsedAt",
        "revokedAt",
    }
    assert by_prefix[minted["prefix"]]["lastUsedAt"] is not None
    assert by_prefix[minted["prefix"]]["revokedAt"] is None
    assert minted["key"] not in str(listed)
    assert (await dash.call("DELETE", f"/api-keys/{minted['prefix']}"))[1] == {"ok": True}
    for method, path in [
        ("GET", "/tasks"),
        ("GET", "/tasks/x"),
        ("POST", "/tasks"),
        ("GET", "/api-keys"),
    ]:
        status, body, _ = await new.call(
            method, path, json={"endUserId": "a", "task": "x"} if method == "POST" else None
        )
        assert status == 403, (method, path)
        assert "revoked" in body["error"]
    _, listed, _ = await dash.call("GET", "/api-keys")
    assert {k["prefix"]: k for k in listed["keys"]}[minted["prefix"]]["revokedAt"] is not None
    assert (await dash.call("DELETE", "/api-keys/sb_live_nothere"))[0] == 404


async def test_api_key_on_api_keys_routes_is_401(api: Raw) -> None:
    for method in ("GET", "POST"):
        status, body, _ = await api.call(method, "/api-keys")
        assert status == 401
        assert "dashboard" in body["error"]
    assert (await api.call("DELETE", "/api-keys/sb_live_whatever"))[0] == 401


async def test_dashboard_token_may_omit_end_user_id(api: Raw, emu: Emulator) -> None:
    dash = api.as_(emu.dashboard_token)
    status, body, _ = await dash.call("POST", "/tasks", json={"task": "x"})
    assert status == 201
    assert emu.task_record(body["taskId"])["endUserId"] == "self"
    status, body, _ = await dash.call("POST", "/design/extract", json={"url": "https://a.example"})
    assert status == 202


async def test_other_business_resources_are_404(api: Raw, emu: Emulator) -> None:
    sub = await submit(api, task="mine")
    await api.call("PUT", "/end-users/alice/credentials", json={"redditSession": "s"})
    other = emu.add_business(name="other")
    them = api.as_(other.api_key)
    assert (await them.call("GET", f"/tasks/{sub['taskId']}"))[0] == 404
    assert (await them.call("GET", f"/sessions/{sub['sessionId']}"))[0] == 404
    status, _, _ = await them.call(
        "POST", "/tasks", json={"endUserId": "a", "task": "x", "sessionId": sub["sessionId"]}
    )
    assert status == 404
    assert (await them.call("GET", "/tasks"))[1] == {"sessions": []}
    _, creds, _ = await them.call("GET", "/end-users/alice/credentials")
    assert creds["platforms"]["reddit"] is False
    their_dash = api.as_(other.dashboard_token)
    assert (await their_dash.call("DELETE", f"/api-keys/{emu.api_key[:16]}"))[0] == 404
    assert (await api.call("GET", "/tasks"))[0] == 200  # not revoked by the attempt


async def test_monthly_quota_is_429_with_limit_and_used() -> None:
    async with Emulator(monthly_quota=2) as emu:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            api = Raw(session, emu, emu.api_key)
            await submit(api, task="1")
            status, _, _ = await api.call(
                "POST", "/design/extract", json={"url": "https://x.example", "endUserId": "a"}
            )
            assert status == 202
            status, body, _ = await api.call("POST", "/tasks", json={"endUserId": "a", "task": "3"})
            assert status == 429
            assert body == {
                "error": "Monthly limit of 2 tasks reached. Upgrade your plan to run more tasks.",
                "limit": 2,
                "used": 2,
            }
            assert (
                await api.call(
                    "POST", "/design/extract", json={"url": "https://x.example", "endUserId": "a"}
                )
            )[0] == 429
            assert emu.tasks_created() == 2
            other = emu.add_business(monthly_quota=None)
            assert (
                await api.as_(other.api_key).call(
                    "POST", "/tasks", json={"endUserId": "a", "task": "x"}
                )
            )[0] == 201
            assert emu.tasks_created(other) == 1
            assert emu.tasks_created(emu.business) == 2


async def test_request_rate_limit_is_429_with_retry_after() -> None:
    import aiohttp

    async with Emulator(rate_limit=(3, 60.0)) as emu, aiohttp.ClientSession() as session:
        api = Raw(session, emu, emu.api_key)
        for _ in range(3):
            assert (await api.call("GET", "/tasks"))[0] == 200
        status, body, headers = await api.call("GET", "/tasks")
        assert status == 429
        assert body == {"error": "Rate limit exceeded"}
        assert 1 <= int(headers["Retry-After"]) <= 60
        other_key = emu.mint_api_key()
        assert (await api.as_(other_key).call("GET", "/tasks"))[0] == 200


async def test_design_validation(api: Raw) -> None:
    for body in (
        {"endUserId": "a"},
        {"url": "ftp://x.example", "endUserId": "a"},
        {"url": "/relative", "endUserId": "a"},
        {"url": "https://x.example"},
        {"url": "https://x.example", "endUserId": "a", "extractors": ["images", "smell"]},
        {"url": "https://x.example", "endUserId": "a", "extractors": "images"},
        {"url": "https://x.example", "endUserId": "a", "extractors": []},
        {"url": "https://x.example", "endUserId": "a", "enableIpRotation": "yes"},
    ):
        status, answer, _ = await api.call("POST", "/design/extract", json=body)
        assert status == 400, body
        assert answer["error"]


async def test_recorded_requests_mask_auth_and_keep_raw_path(api: Raw, emu: Emulator) -> None:
    emu.clear_requests()
    await api.call("GET", "/tasks/a%2Fb%3Fc%23d")
    await api.call("GET", "/tasks?limit=10")
    await api.call("PUT", "/end-users/alice/credentials", json={"redditSession": "cookie"})
    first, second, third = emu.requests
    assert first.method == "GET"
    assert first.path == "/v1/tasks/a%2Fb%3Fc%23d"
    assert first.headers["Authorization"] == f"Bearer {emu.api_key[:16]}…"
    assert emu.api_key not in repr(emu.requests)
    assert second.path == "/v1/tasks"
    assert second.query == {"limit": "10"}
    assert third.json == {"redditSession": "cookie"}
    assert third.body == b'{"redditSession": "cookie"}'
    assert third.received_at == emu.clock.now()
    assert first.body == b""
    assert first.json is None


async def test_percent_encoded_ids_are_one_segment(api: Raw, emu: Emulator) -> None:
    status, body, _ = await api.call("GET", "/tasks/a%2Fb%3Fc%23d")
    assert status == 404
    assert body["error"] == "Task not found: a/b?c#d"
    status, body, _ = await api.call("GET", "/tasks/..%2Fapi-keys")
    assert status == 404
    assert body["error"] == "Task not found: ../api-keys"
    dash = api.as_(emu.dashboard_token)
    status, body, _ = await dash.call("DELETE", "/api-keys/..%2Fapi-keys")
    assert status == 404
    assert "../api-keys" in body["error"]
    path = "/end-users/a%2Fb%3Fc%23d/credentials"
    assert (await api.call("PUT", path, json={"redditSession": "s"}))[0] == 200
    _, body, _ = await api.call("GET", path)
    assert body["endUserId"] == "a/b?c#d"
    assert body["platforms"]["reddit"] is True
