"""kill -9 of the agent process while it buffers, then a restart: nothing buffered is lost."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path

from shopfloor.service import Platform

from .conftest import ASSET, stored, wait_for
from .servers import PlcServer, Proxy
from .test_uplink_outage import TAGS, agent_config


def _toml(cfg: dict) -> str:
    lines = [f'agent_id = "{cfg["agent_id"]}"']
    for section in ("uplink", "buffer", "health"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {_v(v)}" for k, v in cfg[section].items()]
    for dev in cfg["modbus"]:
        lines.append("[[modbus]]")
        lines += [f"{k} = {_v(v)}" for k, v in dev.items() if k != "registers"]
        for reg in dev["registers"]:
            lines.append("[[modbus.registers]]")
            lines += [f"{k} = {_v(v)}" for k, v in reg.items()]
    text = "\n".join(lines) + "\n"
    tomllib.loads(text)
    return text


def _v(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def _buffered(path: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(path) as db:
        try:
            return [tuple(r) for r in db.execute("SELECT asset, tag, ts FROM buf ORDER BY seq")]
        except sqlite3.OperationalError:  # the agent has not created its table yet
            return []


def _spawn(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "shopfloor.edge", "--config", str(config), "--log-level", "WARNING"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def test_kill_9_while_buffering_loses_nothing(
    tmp_path: Path, platform: Platform, plc: PlcServer, proxy: Proxy
) -> None:
    await proxy.cut()  # the uplink is down from the start: everything stays in the buffer
    cfg = agent_config(tmp_path, plc.port, proxy.port)
    buffer = Path(cfg["buffer"]["path"])
    config = tmp_path / "edge.toml"
    config.write_text(_toml(cfg))
    log = tmp_path / "agent.log"
    plc.regs[1][:TAGS] = list(range(100, 100 + TAGS))
    agent = _spawn(config, log)
    try:
        await wait_for(lambda: buffer.exists() and len(_buffered(buffer)) >= 10 * TAGS, timeout=30)
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait(10)
        before = _buffered(buffer)
        assert len(before) >= 10 * TAGS
        await proxy.start()
        agent = _spawn(config, log)
        keys = {(a, t, ts) for a, t, ts in before}

        async def all_arrived() -> bool:
            have = set()
            for i in range(TAGS):
                have |= {(ASSET, f"t{i}", s.ts) for s in await stored(platform, f"t{i}")}
            return keys <= have

        await wait_for(all_arrived, timeout=30)
    finally:
        if agent.poll() is None:
            agent.send_signal(signal.SIGTERM)
            await asyncio.to_thread(agent.wait, 15)
    assert agent.returncode == 0, log.read_text()[-2000:]
    for i in range(TAGS):
        ts = [s.ts for s in await stored(platform, f"t{i}")]
        assert len(ts) == len(set(ts)), f"t{i}: duplicated after the restart"
