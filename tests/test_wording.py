"""Sentences a workshop attendee reads: which engine auto chose and why, who holds a busy port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab import engines, lifecycle
from lab.engines.kube import doctor
from lab.engines.local.ports import free_port


def test_auto_says_it_chose_the_embedded_engine_when_tools_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines.shutil, "which", lambda tool: None if tool in ("kind", "helm") else "/bin/x")
    choice = lifecycle.choose_engine("auto")
    assert choice.name == "local"
    assert choice.reason == "auto: the embedded engine, since kind and helm are not on PATH"


def test_auto_says_it_chose_the_embedded_engine_without_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines.shutil, "which", lambda tool: "/bin/x")
    monkeypatch.setattr(engines, "docker_problem", lambda: "no Docker daemon answers (DockerException)")
    choice = lifecycle.choose_engine("auto")
    assert (choice.name, choice.reason) == (
        "local",
        "auto: the embedded engine, since no Docker daemon answers (DockerException)",
    )


def test_auto_says_why_it_chose_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engines.shutil, "which", lambda tool: "/bin/x")
    monkeypatch.setattr(engines, "docker_problem", lambda: None)
    choice = lifecycle.choose_engine("auto")
    assert (choice.name, choice.reason) == (
        "kind",
        "auto: kind, since Docker answers and kind, helm and kubectl are installed",
    )


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_doctor_names_the_process_holding_a_port(held_port: int) -> None:
    (check,) = doctor.check_ports([held_port], engines.port_holder)
    assert not check.ok
    assert f"pid {os.getpid()}" in check.detail
    assert "kind delete cluster" not in check.fix  # not blamed on an old kind lab


def test_doctor_blames_the_embedded_lab_when_it_holds_the_port(tmp_path: Path) -> None:
    port = free_port()
    # a process that looks like the embedded lab (its module and --config on the command line)
    script = (
        "import socket, sys, time\n"
        f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); print('ready', flush=True)\n"
        "sys.stdin.read()\n"
    )
    fake = tmp_path / "lab" / "engines" / "local"
    fake.mkdir(parents=True)
    (fake / "server.py").write_text(script)
    for d in (tmp_path / "lab", tmp_path / "lab" / "engines", fake):
        (d / "__init__.py").touch()
    proc = subprocess.Popen(
        [sys.executable, "-m", "lab.engines.local.server", "--config", str(tmp_path / "server-config.json")],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        (check,) = doctor.check_ports([port], engines.port_holder)
        assert not check.ok
        assert f"the embedded lab (pid {proc.pid})" in check.detail
        assert "lab down" in check.fix and "kind delete cluster" not in check.fix
    finally:
        proc.communicate(input="", timeout=10)


def test_doctor_keeps_the_kind_hint_when_docker_holds_the_port() -> None:
    fix = doctor.port_fix(8443, "docker-proxy (pid 4242)", None)
    assert "kind delete cluster --name lab" in fix


def test_doctor_falls_back_to_lsof_when_the_os_does_not_say() -> None:
    fix = doctor.port_fix(8443, None, None)
    assert "lsof -nP -iTCP:8443" in fix and "kind delete cluster" in fix
