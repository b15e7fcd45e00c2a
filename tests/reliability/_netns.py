"""A network namespace joined to this one by a veth pair, with an emulator serving inside it.

Used by test_netem.py. Two halves:

- In the test process: `preflight()` says why the machine cannot do it (not
  Linux, not root, no ``ip``/``tc``), and `NamespacedEmulator` creates a
  uniquely named namespace and veth pair on a free ``10.x.y.0/30`` (the
  namespace end ``.2``, this end ``.1``), applies a queueing discipline to both
  ends, starts the emulator inside, and removes all of it again on exit, even
  after a failure.
- In the namespace (``python -m tests.reliability._netns``): the emulator,
  which listens on loopback only, on the namespace's own 127.0.0.1, plus a
  plain TCP relay from the namespace's veth address to it. The relay is needed
  because `Emulator` refuses non-loopback hosts; traffic still crosses the veth
  (and its qdisc) between the client here and the relay there.

Nothing here touches an address outside the namespace and veth pair it created.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import select
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SEARCH_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
COMMAND_TIMEOUT = 20.0  # seconds for one ip/tc command
SERVER_START_TIMEOUT = 30.0


class NetnsUnavailable(Exception):
    """The machine cannot build the namespace (the message says why): the test skips."""


def tool(name: str) -> str | None:
    return shutil.which(name, path=SEARCH_PATH)


def preflight() -> str | None:
    """Why namespaces cannot be used here, or None when they can be tried."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces need Linux, this is {sys.platform}"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (run as root, or in a privileged container)"
    missing = [name for name in ("ip", "tc") if tool(name) is None]
    if missing:
        return f"missing {' and '.join(missing)} (iproute2) on PATH or in /usr/sbin"
    return None


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one ip/tc command (bounded in time); raise NetnsUnavailable with its stderr."""
    exe = tool(argv[0]) or argv[0]
    try:
        done = subprocess.run(
            [exe, *argv[1:]],
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise NetnsUnavailable(f"`{' '.join(argv)}` failed: {error}") from error
    if check and done.returncode != 0:
        raise NetnsUnavailable(f"`{' '.join(argv)}` failed: {done.stderr.strip()}")
    return done


def free_subnet() -> ipaddress.IPv4Network:
    """A random 10.x.y.0/30 that no route or address of this namespace overlaps."""
    taken = []
    for line in run("ip", "-4", "route", "show", "table", "all").stdout.splitlines():
        word = line.split()[0] if line.split() else ""
        with contextlib.suppress(ValueError):
            taken.append(ipaddress.ip_network(word if word != "default" else "0.0.0.0/32"))
    for line in run("ip", "-4", "-o", "addr", "show").stdout.splitlines():
        parts = line.split()
        if "inet" in parts:
            with contextlib.suppress(ValueError):
                taken.append(ipaddress.ip_interface(parts[parts.index("inet") + 1]).network)
    for _ in range(64):
        candidate = ipaddress.ip_network(
            f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(256)}.{4 * secrets.randbelow(64)}/30"
        )
        if not any(candidate.overlaps(net) for net in taken if net.prefixlen > 0):
            return candidate
    raise NetnsUnavailable("no free 10.x.y.0/30 subnet found")


def qdisc_stats(show: str) -> dict[str, int]:
    """``sent_packets``, ``dropped`` and ``overlimits`` from ``tc -s qdisc show`` output."""
    words = show.replace(",", " ").replace("(", " ").replace(")", " ").split()
    stats: dict[str, int] = {}
    for key, name, offset in (("Sent", "sent_packets", 3), ("dropped", "dropped", 1)):
        if key in words:
            with contextlib.suppress(ValueError, IndexError):
                stats[name] = int(words[words.index(key) + offset])
    if "overlimits" in words:
        with contextlib.suppress(ValueError, IndexError):
            stats["overlimits"] = int(words[words.index("overlimits") + 1])
    return stats


def tcp_counters(snmp: str) -> dict[str, int]:
    """OutSegs and RetransSegs from the text of /proc/net/snmp (empty when absent)."""
    lines = [line.split() for line in snmp.splitlines() if line.startswith("Tcp:")]
    if len(lines) < 2:
        return {}
    header, values = lines[0], lines[1]
    return {
        name: int(values[header.index(name)])
        for name in ("OutSegs", "RetransSegs")
        if name in header
    }


class _Lines:
    """Line reader over a pipe with a deadline on every read (never blocks forever)."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._buffer = b""

    def readline(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no line from the namespaced emulator in time")
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if ready:
                chunk = os.read(self._fd, 65536)
                if not chunk:
                    raise EOFError("the namespaced emulator exited")
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode()


class NamespacedEmulator:
    """``with NamespacedEmulator(qdisc=[...]) as ns:`` — ``ns.url``, ``ns.api_key``, ``ns.stats()``.

    `qdisc` is the argument list after ``tc qdisc add dev IF root`` (for
    example ``["netem", "delay", "50ms", "loss", "1%"]``), applied to both ends
    of the veth pair, so each direction gets it. `emulator_args` go to the
    emulator (``--seed``, ``--min-duration``, ``--max-duration``).
    """

    def __init__(self, qdisc: list[str] | None, emulator_args: list[str] | None = None) -> None:
        tag = f"{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.namespace = f"sbrel-{tag}"
        self.host_if = f"sbh{tag}"[:15]
        self.ns_if = f"sbn{tag}"[:15]
        self.qdisc = qdisc
        self.emulator_args = emulator_args or []
        self.url = ""
        self.api_key = ""
        self.host_address = ""
        self.ns_address = ""
        self._created: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._lines: _Lines | None = None

    def __enter__(self) -> NamespacedEmulator:
        try:
            self._setup()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _setup(self) -> None:
        subnet = free_subnet()
        host, peer = (str(a) for a in list(subnet.hosts())[:2])
        self.host_address, self.ns_address = host, peer
        run("ip", "netns", "add", self.namespace)
        self._created.append("netns")
        run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
        self._created.append("veth")
        run("ip", "link", "set", self.ns_if, "netns", self.namespace)
        run("ip", "addr", "add", f"{host}/30", "dev", self.host_if)
        run("ip", "link", "set", self.host_if, "up")
        inside = ("ip", "netns", "exec", self.namespace)
        run(*inside, "ip", "addr", "add", f"{peer}/30", "dev", self.ns_if)
        run(*inside, "ip", "link", "set", self.ns_if, "up")
        run(*inside, "ip", "link", "set", "lo", "up")
        if self.qdisc:
            run("tc", "qdisc", "add", "dev", self.host_if, "root", *self.qdisc)
            run(*inside, "tc", "qdisc", "add", "dev", self.ns_if, "root", *self.qdisc)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self._proc = subprocess.Popen(
            [
                tool("ip") or "ip",
                *inside[1:],
                sys.executable,
                "-m",
                "tests.reliability._netns",
                "--listen",
                peer,
                *self.emulator_args,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
            env=env,
        )
        assert self._proc.stdout is not None
        self._lines = _Lines(self._proc.stdout.fileno())
        try:
            hello = json.loads(self._lines.readline(SERVER_START_TIMEOUT))
        except (TimeoutError, EOFError, ValueError) as error:
            raise NetnsUnavailable(
                f"the emulator did not start in the namespace: {error}"
            ) from None
        self.url, self.api_key = hello["url"], hello["api_key"]

    def stats(self) -> dict[str, Any]:
        """The emulator's counts and the namespace's TCP retransmissions, asked over its stdin."""
        assert self._proc is not None and self._proc.stdin is not None and self._lines is not None
        self._proc.stdin.write(b"stats\n")
        self._proc.stdin.flush()
        result: dict[str, Any] = json.loads(self._lines.readline(COMMAND_TIMEOUT))
        return result

    def qdisc_figures(self) -> dict[str, dict[str, int]]:
        """Packets sent/dropped by the qdisc on each end: {"client->server": ..., "server->client": ...}."""
        out = run("tc", "-s", "qdisc", "show", "dev", self.host_if).stdout
        back = run(
            "ip", "netns", "exec", self.namespace, "tc", "-s", "qdisc", "show", "dev", self.ns_if
        ).stdout
        return {"client->server": qdisc_stats(out), "server->client": qdisc_stats(back)}

    def close(self) -> None:
        """Stop the emulator, delete the veth pair and the namespace. Never raises."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()  # EOF: the server exits
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            if proc.stdout is not None:
                proc.stdout.close()
        if "veth" in self._created:
            run("ip", "link", "del", self.host_if, check=False)  # takes its peer with it
        if "netns" in self._created:
            run("ip", "netns", "del", self.namespace, check=False)
        self._created.clear()


# -- the namespace side -------------------------------------------------------------------------


async def _relay(listen: str, port: int, target_port: int, delay: float) -> asyncio.Server:
    """A TCP relay to the emulator; each chunk waits `delay` seconds first (0: none).

    The delay stands in for netem's where the kernel lacks ``sch_netem``: every
    request and every answer crosses it once, so a round trip gains 2 x `delay`.
    """

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while chunk := await reader.read(65536):
                if delay:
                    await asyncio.sleep(delay)
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            writer.transport.abort()

    async def handle(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_w.transport.abort()
            return
        try:
            await asyncio.gather(pipe(client_r, server_w), pipe(server_r, client_w))
        finally:
            for writer in (server_w, client_w):
                writer.close()
                with contextlib.suppress(ConnectionError, OSError):
                    await writer.wait_closed()

    return await asyncio.start_server(handle, listen, port)


async def _serve(args: argparse.Namespace) -> None:
    from stablebrowse_async.testing import Emulator

    loop = asyncio.get_running_loop()
    async with Emulator(
        seed=args.seed, durations=(args.min_duration, args.max_duration), pending_for=0.05
    ) as emulator:
        server = await _relay(args.listen, args.port, emulator.port, args.delay)
        port = server.sockets[0].getsockname()[1]
        hello = {"url": f"http://{args.listen}:{port}/v1", "api_key": emulator.api_key}
        print(json.dumps(hello), flush=True)
        reader = asyncio.StreamReader()
        await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
        async with server:
            while line := await reader.readline():
                if line.strip() == b"stats":
                    methods: dict[str, int] = {}
                    for request in emulator.requests:
                        methods[request.method] = methods.get(request.method, 0) + 1
                    snmp = await asyncio.to_thread(Path("/proc/self/net/snmp").read_text)
                    stats = {
                        "tasks_created": emulator.tasks_created(),
                        "requests": methods,
                        "task_texts": sorted(t.text for t in emulator._state.tasks.values()),
                        "tcp_in_namespace": tcp_counters(snmp),
                    }
                    print(json.dumps(stats), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="emulator + relay inside a network namespace")
    parser.add_argument("--listen", required=True, help="the namespace's veth address")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-duration", type=float, default=0.2)
    parser.add_argument("--max-duration", type=float, default=1.0)
    parser.add_argument("--delay", type=float, default=0.0, help="relay delay per chunk, seconds")
    asyncio.run(_serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
