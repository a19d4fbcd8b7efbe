"""The `shopfloor` command, run as a user runs it: a real process."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

EXE = str(Path(sys.executable).with_name("shopfloor"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(*args: str, env: dict | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [EXE, *args], capture_output=True, text=True, timeout=timeout, env={**os.environ, **(env or {})}
    )


def test_help_lists_the_commands_with_examples() -> None:
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("demo", "up", "sim", "bench", "plant", "deadletters", "settings"):
        assert cmd in r.stdout
    r = run("demo", "--help")
    assert r.returncode == 0 and "Example" in r.stdout


def test_wrong_setting_is_one_clear_line() -> None:
    r = run("settings", "--check", env={"SHOPFLOOR_API__PORT": "eighty"})
    assert r.returncode == 2
    assert "error: setting api.port" in r.stderr
    assert "Traceback" not in r.stderr


def test_plant_validate_and_show() -> None:
    r = run("plant", "validate", str(Path(__file__).parent / "nope.toml"))
    assert r.returncode == 2 and "cannot read plant file" in r.stderr
    r = run("plant", "show")
    assert r.returncode == 0 and "machine" in r.stdout


@pytest.mark.slow
def test_demo_serves_live_simulated_values_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SHOPFLOOR_MQTT__PORT": "0", "SHOPFLOOR_LOG_LEVEL": "INFO"}
    args = [
        EXE,
        "demo",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "data"),
        "--modbus-port",
        "0",
        "--opcua-port",
        "0",
    ]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        latest: list = []
        while time.monotonic() < deadline:
            try:
                latest = httpx.get(f"http://127.0.0.1:{port}/api/v1/latest", timeout=2).json()
                if len(latest) > 20:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            time.sleep(0.5)
        assert len(latest) > 20, "no simulated values reached the store"
        first = {(s["asset"], s["tag"]): s["ts"] for s in latest}
        time.sleep(3)
        later = httpx.get(f"http://127.0.0.1:{port}/api/v1/latest", timeout=2).json()
        moved = sum(1 for s in later if s["ts"] > first.get((s["asset"], s["tag"]), 0))
        assert moved > 10, "values are not live"
        page = httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        assert page.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "NOT secured" in out
    assert "Traceback" not in out


def test_export_from_the_store(tmp_path: Path) -> None:
    import asyncio

    from shopfloor.core.sample import Sample
    from shopfloor.store.embedded import EmbeddedStore

    async def fill() -> None:
        store = EmbeddedStore(tmp_path / "data" / "timeseries.duckdb")
        await store.open()
        now = time.time_ns()
        await store.write([Sample("s/a/l/m", "t", now - i * 10**9, float(i)) for i in range(1, 4)])
        await store.close()

    asyncio.run(fill())
    out = tmp_path / "out.csv"
    r = run("export", str(out), "--start", "-1h", "--data-dir", str(tmp_path / "data"))
    assert r.returncode == 0, r.stderr
    rows = out.read_text().strip().splitlines()
    assert len(rows) == 4 and rows[0].startswith("asset,tag,time,value")
    r = run("export", str(tmp_path / "out.xlsx"), "--data-dir", str(tmp_path / "data"))
    assert r.returncode == 2 and "must end in .csv or .parquet" in r.stderr
