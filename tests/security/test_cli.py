"""The admin commands, in process with typer's runner, on a fresh data directory."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from typer.testing import CliRunner

from shopfloor.cli import app

runner = CliRunner()


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.output


def test_users_tokens_devices_audit(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path)]
    code, out = run(
        "users", "add", "alice", "--role", "admin", "--password-stdin", *d, stdin="a long secret pw\n"
    )
    assert code == 0, out
    code, out = run(
        "users", "add", "bob", "--role", "boss", "--password-stdin", *d, stdin="a long secret pw\n"
    )
    assert code != 0
    code, out = run("users", "list", *d)
    assert "name=alice" in out and "role=admin" in out
    code, out = run("tokens", "add", "export", "--role", "viewer", "--scope", "data:*", *d)
    assert code == 0 and out.strip().splitlines()[-1].startswith("sft_")
    token_id = out.split()[1]
    assert run("tokens", "revoke", token_id, *d)[0] == 0
    assert "revoked=True" in run("tokens", "list", *d)[1]
    assert run("pki", "init", *d)[0] == 0
    passwd = tmp_path / "passwd"
    code, out = run(
        "devices",
        "add",
        "cutter-1",
        "--topic-prefix",
        "shopfloor/v1/mill/l1/cutter",
        "--cert",
        "--mosquitto-passwd",
        str(passwd),
        *d,
    )
    assert code == 0, out
    assert (tmp_path / "pki" / "issued" / "cutter-1.crt").exists() and passwd.read_text().startswith(
        "cutter-1:$7$"
    )
    assert "topic write shopfloor/v1/mill/l1/cutter/#" in run("devices", "acl", *d)[1]
    code, out = run("devices", "revoke", "cutter-1", *d)
    assert code == 0 and "user cutter-1" not in run("devices", "acl", *d)[1]
    code, out = run("audit", "verify", *d)
    assert code == 0 and "chain intact" in out, out
    actions = run("audit", "show", *d)[1]
    for action in (
        "user.add",
        "token.issue",
        "token.revoke",
        "pki.init",
        "device.provision",
        "device.revoke",
        "pki.revoke",
    ):
        assert action in actions, action
    con = sqlite3.connect(tmp_path / "security.db")
    con.execute("UPDATE audit SET actor='mallory' WHERE seq=1")
    con.commit()
    con.close()
    code, out = run("audit", "verify", *d)
    assert code == 1 and "record 1: modified" in out


def test_pki_and_signing_commands(tmp_path: Path) -> None:
    d = ["--data-dir", str(tmp_path)]
    assert run("pki", "init", *d)[0] == 0
    code, out = run("pki", "issue", "gw", "--server", "--host", "gw.local", *d)
    assert code == 0 and "serial" in out
    assert run("pki", "revoke", "gw", *d)[0] == 0
    assert run("pki", "crl", *d)[0] == 0
    keys = tmp_path / "keys"
    assert run("sign", "keygen", "--out", str(keys))[0] == 0
    bundle = tmp_path / "fw"
    bundle.mkdir()
    (bundle / "fw.bin").write_bytes(b"\x00\x01")
    key = str(keys / "signing.key")
    code, out = run(
        "sign", "bundle", str(bundle), "--key", key, "--kind", "firmware", "--name", "gw", "--version", "1.2"
    )
    assert code == 0, out
    assert run("sign", "verify", str(bundle), "--pub", str(keys / "signing.pub"))[0] == 0
    code, out = run("sign", "verify", str(bundle), "--pub", str(keys / "signing.pub"), "--installed", "1.2")
    assert code == 1 and "downgrade" in out
