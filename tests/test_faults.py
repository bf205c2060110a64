"""The unhappy path: corrupt state, hostile state folders, dead labs, bad addresses, bad files, broken
scenarios. Each test reproduces an item of the "recover from anything" issue on a real embedded lab.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from lab.engines.local.ports import free_port, is_free
from lab.engines.local.process import SERVER_MODULE, find, started_at
from lab.ui.cli import cli
from lab.waiting import poll
from tests.conftest import ROOT, LabCopy


def lab(*args: str, lab_dir: Path = ROOT) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--lab-dir", str(lab_dir), *args], catch_exceptions=False)
    return result.exit_code, result.output


def gone(pid: int) -> bool:
    return poll(lambda: True if started_at(pid) is None else None, what="exit", budget=5, interval=0.02) is not None


class Lab:
    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.port = free_port()

    def up(self, *extra: str, scenario: str = "canary-99-1") -> tuple[int, str]:
        return lab("up", scenario, "--engine", "local", "--state-dir", str(self.state_dir), *extra)

    def start(self, scenario: str = "canary-99-1") -> int:
        code, out = self.up("--port", f"8443={self.port}", "--no-check", scenario=scenario)
        assert code == 0, out
        return self.pid()

    def pid(self) -> int:
        return int(json.loads((self.state_dir / "state.json").read_text())["record"]["pid"])

    def cmd(self, *args: str) -> tuple[int, str]:
        return lab(*args, "--state-dir", str(self.state_dir))

    def processes(self) -> list[int]:
        return [p.pid for p in find(self.state_dir / "server-config.json")]


@pytest.fixture
def local(tmp_path: Path) -> Iterator[Lab]:
    lab_ = Lab(tmp_path / "state")
    yield lab_
    for pid in lab_.processes():
        os.kill(pid, signal.SIGKILL)


def assert_clean(local: Lab) -> None:
    assert local.processes() == []
    assert is_free("127.0.0.1", local.port)
    assert not (local.state_dir / "state.json").exists()


# -- item 2: a truncated, empty or garbage state.json never orphans the lab process -------------
CORRUPTIONS = {
    "truncated": lambda text: text[: len(text) // 2],
    "empty": lambda text: "",
    "garbage": lambda text: "\x00\xff not json at all",
    "pid-not-a-number": lambda text: text.replace('"pid": ', '"pid": "abc", "was": ', 1),
    "a-list": lambda text: "[1, 2, 3]",
    "unknown-engine": lambda text: text.replace('"engine": "local"', '"engine": "podman"'),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_state_is_reported_and_down_still_stops_the_lab(local: Lab, corruption: str) -> None:
    pid = local.start()
    state_file = local.state_dir / "state.json"
    state_file.write_text(CORRUPTIONS[corruption](state_file.read_text()))
    code, out = local.cmd("status")
    assert code == 5, out  # never "no lab" (4) while a lab process of this state folder runs
    assert "Traceback" not in out
    # the orphan is named, and what to do about it (`lab down` needs no intact state)
    assert f"lab process pid {pid}" in out and "`lab down`" in out, out
    code, out = local.cmd("check", "-n", "10")
    assert code == 5 and "`lab down`" in out, out
    code, out = local.cmd("down")
    assert code == 0, out
    assert f"lab process {pid}" in out and "Traceback" not in out
    assert gone(pid)
    assert_clean(local)
    code, out = local.up("--port", f"8443={local.port}", "--no-check")
    assert code == 0, out


def test_a_folder_where_state_json_belongs_stops_the_lab_then_is_exit_4_naming_it(local: Lab) -> None:
    pid = local.start()
    state_file = local.state_dir / "state.json"
    state_file.unlink()
    state_file.mkdir()
    (state_file / "notes.txt").write_text("not lab's to delete")
    code, out = local.cmd("status")
    assert code == 5 and f"lab process pid {pid}" in out, out
    for command in (("down",), ("up", "canary-99-1", "--engine", "local", "--no-check")):
        code, out = local.cmd(*command)
        assert code == 4, (command, out)
        assert f"{state_file}: Is a directory" in out and "this is a bug" not in out, out
    assert gone(pid) and local.processes() == []  # down stopped the lab before it stopped at the folder
    assert (state_file / "notes.txt").read_text() == "not lab's to delete"


@pytest.mark.parametrize("name", ["server-config.json", "admin-token", "ca.pem", "ca-key.pem", "server.log", "server.json"])
def test_a_folder_where_a_state_file_belongs_is_exit_4_naming_it(local: Lab, name: str) -> None:
    local.state_dir.mkdir(mode=0o700)
    (local.state_dir / name).mkdir()
    code, out = local.up("--port", f"8443={local.port}", "--no-check")
    assert code == 4, out
    assert str(local.state_dir / name) in out and "Is a directory" in out and "this is a bug" not in out, out
    assert local.processes() == []
    (local.state_dir / name).rmdir()
    code, out = local.cmd("down")
    assert code == 0, out
    assert_clean(local)


def test_up_over_corrupt_state_recovers_the_orphan_and_starts(local: Lab) -> None:
    pid = local.start()
    (local.state_dir / "state.json").write_text("{")
    code, out = local.up("--port", f"8443={local.port}", "--no-check")
    assert code == 0, out
    assert "recovering" in out and f"lab process {pid}" in out
    assert gone(pid) and local.pid() != pid


def test_lost_state_is_found_by_status_down_and_up(local: Lab) -> None:
    pid = local.start()
    (local.state_dir / "state.json").unlink()
    code, out = local.cmd("status")
    assert code == 5 and f"lab process pid {pid}" in out and "lab down" in out, out
    code, out = local.cmd("down")
    assert code == 0 and f"lab process {pid}" in out, out
    assert_clean(local)


def test_up_over_lost_state_says_it_stopped_the_orphan(local: Lab) -> None:
    pid = local.start()
    (local.state_dir / "state.json").unlink()
    code, out = local.up("--port", f"8443={local.port}", "--no-check")
    assert code == 0, out
    assert f"recovered: stopped lab process pid {pid} (no state record)" in out, out
    assert gone(pid) and local.processes() == [local.pid()]


# -- item 4: state folders that cannot be used, or that others could tamper with ----------------
def test_state_folder_under_a_file_is_exit_4_naming_it(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    code, out = lab("up", "canary-99-1", "--engine", "local", "--state-dir", str(tmp_path / "file" / "state"))
    assert code == 4, out
    assert str(tmp_path / "file" / "state") in out and "Traceback" not in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_read_only_state_folder_is_exit_4(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o500)
    code, out = lab("up", "canary-99-1", "--engine", "local", "--state-dir", str(folder))
    assert code == 4 and "not writable" in out, out


def test_read_only_state_folder_is_exit_4_even_for_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o700)
    real = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == folder and mode & os.W_OK else real(path, mode))
    code, out = lab("up", "canary-99-1", "--engine", "local", "--state-dir", str(folder))
    assert code == 4 and f"the state folder {folder} is not writable" in out, out


def test_world_writable_state_folder_with_a_planted_symlink_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o777)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (folder / "admin-token").symlink_to(victim)
    code, out = lab("up", "canary-99-1", "--engine", "local", "--state-dir", str(folder))
    assert code == 4, out
    assert "writable by others" in out and "chmod 700" in out
    assert victim.read_text() == "precious"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o777  # refused, not silently changed


def test_a_state_folder_of_another_user_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir(mode=0o700)
    owner = folder.stat().st_uid
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)  # as seen by another user
    try:
        code, out = lab("up", "canary-99-1", "--engine", "local", "--state-dir", str(folder),
                        "--port", f"8443={free_port()}", "--no-check")  # fmt: skip
    finally:  # were it accepted, its lab must not outlive the test
        for proc in find(folder / "server-config.json"):
            os.kill(proc.pid, signal.SIGKILL)
    assert code == 4, out
    assert f"belongs to uid {owner}, not to you" in out and "--state-dir" in out
    assert list(folder.iterdir()) == []  # nothing written into it


def test_a_symlink_in_a_private_state_folder_is_replaced_never_written_through(tmp_path: Path) -> None:
    from lab.state import StateDir

    state = StateDir(tmp_path / "state")
    state.ensure()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (state.path / "admin-token").symlink_to(victim)
    written = state.write_private("admin-token", b"secret")
    assert victim.read_text() == "precious"
    assert not written.is_symlink() and written.read_bytes() == b"secret"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


@pytest.mark.parametrize("name", ["ca.pem", "server.pem"])
def test_a_certificate_symlink_in_the_state_folder_is_replaced_never_written_through(tmp_path: Path, name: str) -> None:
    from lab.engines.local.pki import ensure_tls
    from lab.state import StateDir

    state = StateDir(tmp_path / "state")
    state.ensure()
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (state.path / name).symlink_to(victim)
    ensure_tls(state)
    assert victim.read_text() == "precious"
    written = state.path / name
    assert not written.is_symlink() and written.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_new_state_folder_is_private(tmp_path: Path) -> None:
    from lab.state import StateDir

    assert stat.S_IMODE(StateDir(tmp_path / "new").ensure().stat().st_mode) == 0o700


# -- item 5: check and traffic against a dead lab, or a lab of another scenario ------------------
def test_check_and_traffic_against_a_crashed_lab_exit_5_with_its_log(local: Lab) -> None:
    pid = local.start()
    os.kill(pid, signal.SIGKILL)
    assert gone(pid)
    for command in (("check",), ("traffic", "-n", "5")):
        code, out = local.cmd(*command)
        assert code == 5, (command, out)
        assert "crashed" in out and f"pid {pid}" in out and "ready" in out  # the log's last lines


def test_check_of_another_scenario_than_the_running_one_is_exit_2(local: Lab) -> None:
    local.start("canary-99-1")
    code, out = local.cmd("check", "split-50-50", "-n", "20")
    assert code == 2, out
    assert "serves canary-99-1, not split-50-50" in out and "lab up split-50-50" in out


# -- item 6: --bind and --port mistakes --------------------------------------------------------
def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _ipv6_loopback(), reason="no IPv6 loopback on this machine")
def test_bind_ipv6_loopback_converges_and_serves(local: Lab) -> None:
    code, out = local.up("--bind", "::1", "--port", f"8443={local.port}", "--requests", "50")
    assert code == 0, out
    assert f"https://[::1]:{local.port}/echo" in out


def test_bind_to_an_address_not_on_this_machine_is_exit_4_and_says_so(local: Lab) -> None:
    code, out = local.up("--bind", "10.99.99.99", "--no-check")
    assert code == 4, out
    assert "not an address of this machine" in out and "already in use" not in out
    assert not (local.state_dir / "state.json").exists()


def test_port_naming_no_listener_is_exit_2(local: Lab) -> None:
    code, out = local.up("--port", "9999=9443", "--no-check")
    assert code == 2, out
    assert "no Gateway listener on port 9999" in out and "8443" in out
    assert local.processes() == []


# -- item 7: files and options that used to give tracebacks ------------------------------------
@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("binary.yaml", bytes(range(256)) * 4, "not UTF-8 text"),
        ("control.yaml", b"kind: \x07bell\n", "not YAML"),
    ],
)
def test_apply_of_a_file_that_is_not_yaml_is_exit_3(local: Lab, tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    local.start()
    bad = tmp_path / name
    bad.write_bytes(content)
    code, out = local.cmd("apply", str(bad))
    assert code == 3, out
    assert str(bad) in out and expected in out


def test_apply_of_a_device_is_exit_3_without_reading_it(local: Lab) -> None:
    local.start()
    code, out = local.cmd("apply", "/dev/zero")
    assert code == 3, out
    assert "/dev/zero" in out and "not a regular file" in out


def test_apply_of_a_file_larger_than_any_manifest_is_exit_3_without_reading_it_all(local: Lab, tmp_path: Path) -> None:
    from lab.spec.manifests import MAX_MANIFEST_BYTES

    local.start()
    huge = tmp_path / "huge.yaml"
    with huge.open("wb") as fh:
        fh.truncate(MAX_MANIFEST_BYTES + 1)  # sparse: 8 MiB of zero bytes on no disk
    code, out = local.cmd("apply", str(huge))
    assert code == 3, out
    assert str(huge) in out and "larger than 8 MiB; not a manifest" in out


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [("--method", "FO O", "not an HTTP method"), ("--path", "echo", "starts with /, e.g. --path /echo")],
)
def test_traffic_with_a_malformed_method_or_path_is_exit_2(local: Lab, option: str, value: str, expected: str) -> None:
    local.start()
    code, out = local.cmd("traffic", "-n", "3", option, value)
    assert code == 2, out
    assert expected in out


# -- item 8: one broken scenario file affects only itself ----------------------------------------
def test_a_scenario_with_a_syntax_error_breaks_only_itself(lab_copy: LabCopy) -> None:
    lab_copy.write("scenarios/typo.py", "from lab import Scenario\nSCENARIO = Scenario(name='typo',\n")
    code, out = lab("scenarios", lab_dir=lab_copy.root)
    assert code == 0, out
    assert "typo" in out and "BROKEN" in out and "canary-99-1" in out
    code, out = lab("plan", "canary-99-1", lab_dir=lab_copy.root)
    assert code == 0, out
    code, out = lab("validate", lab_dir=lab_copy.root)
    assert code == 3, out
    assert "ok       canary-99-1" in out and "invalid  typo" in out and "typo.py" in out
    code, out = lab("plan", "typo", lab_dir=lab_copy.root)
    assert code == 3 and "importing the scenario failed" in out, out
    code, out = lab("scenarios", "-o", "json", lab_dir=lab_copy.root)
    broken = [s for s in json.loads(out) if s["name"] == "typo"]
    assert broken and "SyntaxError" in broken[0]["error"]


def test_an_empty_catalogue_is_exit_3(tmp_path: Path) -> None:
    (tmp_path / "scenarios").mkdir()
    for command in ("validate", "scenarios"):
        code, out = lab(command, lab_dir=tmp_path)
        assert code == 3, out
        assert "no scenario files" in out


def test_the_lab_server_module_name_is_what_lab_looks_for() -> None:
    assert (ROOT / (SERVER_MODULE.replace(".", "/") + ".py")).exists()
