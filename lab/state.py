"""The lab's state folder (default `.lab/` beside the lab definition): state.json, its lock, secrets.

One running lab per state folder; lab.lifecycle is the only writer of state.json. The folder is
private (0700, owned by the user, refused otherwise); every file is written atomically without
following symlinks (temp file created O_EXCL|O_NOFOLLOW, then renamed), so an interrupted write
leaves the previous state, and a corrupt one is reported, never trusted.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
import stat
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, Protocol

from lab.errors import EnvironmentNotReady, NotConverged
from lab.objects import ObjectKey
from lab.waiting import poll

STATE_FILE = "state.json"
LOCK_FILE = "lock"
SCHEMA = 2
# state.json above this size is not a state file lab wrote
MAX_STATE_BYTES = 4 * 1024 * 1024

Phase = Literal["starting", "running"]


class EngineRecord(Protocol):
    """What one engine records to find and remove its lab (typed per engine, see lab.engines)."""

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form."""
        ...


# engine name, the record's JSON -> the record (lab.engines.decode_record)
RecordDecoder = Callable[[str, Mapping[str, Any]], EngineRecord]


class CorruptState(NotConverged):
    """state.json exists but is not a state lab wrote (truncated, garbage, wrong types): exit 5."""

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        super().__init__(
            message,
            fix=fix or "`lab down` removes this state folder's lab without it (it finds the lab process); then `lab up`",
        )


@dataclass(frozen=True)
class LabState:
    """What a lab is: engine, scenario, where the gateway answers, and the engine's own record.

    `phase` is "starting" from before the engine creates anything until the step converged, so a
    lab interrupted or crashed while starting is still found and removed by `lab down`.
    """

    engine: str
    scenario: str
    step: str
    lab_dir: str
    started_at: float
    run_id: str
    phase: Phase = "starting"
    gateway_host: str = "localhost"
    # listener port in the manifests -> port actually listening on this machine
    ports: Mapping[int, int] = field(default_factory=dict)
    ca_file: str = ""
    # the manifest files applied, in order (what `lab apply` merges with)
    files: tuple[str, ...] = ()
    # what the lab applied, for "apply only what differs"
    applied: tuple[ObjectKey, ...] = ()
    record: EngineRecord | None = None

    @classmethod
    def starting(cls, engine: str, scenario: str, step: str, lab_dir: str) -> LabState:
        """The record written before an engine creates anything."""
        return cls(engine, scenario, step, lab_dir, time.time(), secrets.token_hex(4))

    def running(self) -> LabState:
        """The same state once its step converged."""
        return replace(self, phase="running")

    def gateway_url(self, listener_port: int, path: str = "/", scheme: str = "https") -> str:
        """The URL that reaches a listener of the running lab (scheme: the listener's, http or https)."""
        return f"{scheme}://{self.gateway_host}:{self.ports.get(listener_port, listener_port)}{path}"

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form (ports keys as strings)."""
        return {
            "schema": SCHEMA,
            "engine": self.engine,
            "scenario": self.scenario,
            "step": self.step,
            "lab_dir": self.lab_dir,
            "started_at": self.started_at,
            "run_id": self.run_id,
            "phase": self.phase,
            "gateway_host": self.gateway_host,
            "ports": {str(k): v for k, v in self.ports.items()},
            "ca_file": self.ca_file,
            "files": list(self.files),
            "applied": [str(k) for k in self.applied],
            "record": None if self.record is None else self.record.to_json(),
        }

    @classmethod
    def from_json(cls, data: object, decode: RecordDecoder) -> LabState:
        """Inverse of to_json; CorruptState naming the field when anything is off."""
        doc = Fields(data, "state")
        phase = doc.text("phase")
        if phase not in ("starting", "running"):
            raise CorruptState(f"state.json: phase is {phase!r}, expected starting or running")
        engine = doc.text("engine")
        raw_record = doc.get("record")
        try:
            record = None if raw_record is None else decode(engine, Fields(raw_record, "record").data)
            applied = tuple(ObjectKey.parse(k) for k in doc.texts("applied"))
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptState(f"state.json: {exc}") from exc
        return cls(
            engine=engine,
            scenario=doc.text("scenario"),
            step=doc.text("step"),
            lab_dir=doc.text("lab_dir"),
            started_at=doc.number("started_at"),
            run_id=doc.text("run_id"),
            phase="starting" if phase == "starting" else "running",
            gateway_host=doc.text("gateway_host"),
            ports={int(k): v for k, v in doc.ints("ports").items()},
            ca_file=doc.text("ca_file"),
            files=doc.texts("files"),
            applied=applied,
            record=record,
        )


class Fields:
    """Typed reads of a JSON object, each failure a CorruptState naming the field."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise CorruptState(f"state.json: {where} is {type(data).__name__}, not an object")
        self.data: dict[str, Any] = data
        self.where = where

    def _bad(self, key: str, expected: str) -> CorruptState:
        return CorruptState(f"state.json: {self.where}.{key} is {self.data.get(key)!r}, expected {expected}")

    def get(self, key: str) -> Any:
        """The raw value (None when absent)."""
        return self.data.get(key)

    def text(self, key: str) -> str:
        """A string field."""
        value = self.data.get(key)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def optional_text(self, key: str) -> str | None:
        """A string field that may be null or absent."""
        return None if self.data.get(key) is None else self.text(key)

    def number(self, key: str) -> float:
        """A number field."""
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._bad(key, "a number")
        return float(value)

    def optional_int(self, key: str) -> int | None:
        """A whole number that may be null or absent."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._bad(key, "a whole number")
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of strings (absent: empty)."""
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self._bad(key, "a list of strings")
        return tuple(value)

    def ints(self, key: str) -> dict[str, int]:
        """An object of whole numbers keyed by whole numbers as strings (absent: empty)."""
        value = self.data.get(key, {})
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and k.isdigit() and isinstance(v, int) and not isinstance(v, bool)
            for k, v in value.items()
        )
        if not ok:
            raise self._bad(key, "an object of port numbers")
        return dict(value)


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Replace `path` with `data` atomically; never follows a symlink at `path` or writes through one.

    The bytes go to a new temp file beside it (O_EXCL|O_NOFOLLOW, created with `mode`), are synced,
    then renamed over `path` (a symlink there is replaced, its target untouched).
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, mode)
    except OSError as exc:
        raise unusable(path, "write", exc) from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        if isinstance(exc, OSError):
            raise unusable(path, "write", exc) from exc
        raise


def unusable(path: Path, doing: str, exc: OSError) -> EnvironmentNotReady:
    """Exit 4 for a state file lab cannot write or remove (a folder in its place, a full disk)."""
    return EnvironmentNotReady(
        f"cannot {doing} {path}: {exc.strerror or exc}",
        fix="lab never makes a folder there: move it out of the state folder (or free the disk), then run this again",
    )


def read_private(path: Path, limit: int = MAX_STATE_BYTES) -> bytes:
    """Read a file of the state folder without following a symlink; at most `limit` bytes."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    with os.fdopen(fd, "rb") as fh:
        return fh.read(limit + 1)


class StateDir:
    """The state folder of one lab definition."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def state_file(self) -> Path:
        """state.json."""
        return self.path / STATE_FILE

    def ensure(self) -> Path:
        """Create the folder (0700) if needed; refuse one that is not private to the user (exit 4)."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
            info = os.lstat(self.path)
        except OSError as exc:
            raise EnvironmentNotReady(
                f"cannot use the state folder {self.path}: {exc.strerror or exc}",
                fix="pass a folder you can write with --state-dir (env LAB_STATE_DIR)",
            ) from exc
        self._check_private(info)
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise EnvironmentNotReady(
                f"the state folder {self.path} is not writable",
                fix=f"`chmod u+rwx {self.path}`, or pass another folder with --state-dir",
            )
        return self.path

    def _check_private(self, info: os.stat_result) -> None:
        if not stat.S_ISDIR(info.st_mode):
            raise EnvironmentNotReady(
                f"the state folder {self.path} is not a folder (a symlink or a file is there)",
                fix="remove it, or pass another folder with --state-dir",
            )
        if info.st_uid != os.getuid():
            raise EnvironmentNotReady(
                f"the state folder {self.path} belongs to uid {info.st_uid}, not to you (uid {os.getuid()})",
                fix="use a folder of your own with --state-dir (env LAB_STATE_DIR)",
            )
        if info.st_mode & 0o022:
            raise EnvironmentNotReady(
                f"the state folder {self.path} is writable by others (mode {stat.S_IMODE(info.st_mode):o}): "
                "they could replace its keys and state",
                fix=f"`chmod 700 {self.path}` if its content is yours, or use another --state-dir",
            )

    @contextlib.contextmanager
    def lock(self, timeout: float, interval: float = 0.05) -> Iterator[None]:
        """Hold the state lock; another lab command holding it for `timeout` s is exit 4."""
        self.ensure()
        try:
            fd = os.open(self.path / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        except OSError as exc:
            raise EnvironmentNotReady(
                f"cannot open the lock of {self.path}: {exc.strerror or exc}",
                fix="remove the `lock` entry there if it is a symlink, or use another --state-dir",
            ) from exc
        try:

            def locked() -> bool | None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return None
                return True

            if not poll(locked, what="the state lock", budget=timeout, interval=interval):
                raise EnvironmentNotReady(
                    f"another lab command is using {self.path} (its lock is held)",
                    fix="wait for it to finish, or stop it; then run this again",
                )
            yield
        finally:
            os.close(fd)

    def read(self, decode: RecordDecoder) -> LabState | None:
        """The lab's state, None when there is none; CorruptState when state.json is not lab's."""
        try:
            raw = read_private(self.state_file)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise CorruptState(f"{self.state_file} is a symlink; lab never writes one") from exc
            raise CorruptState(f"cannot read {self.state_file}: {exc.strerror or exc}") from exc
        if len(raw) > MAX_STATE_BYTES:
            raise CorruptState(f"{self.state_file} is larger than any state lab writes")
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            what = "empty" if not raw.strip() else f"not JSON ({exc})"
            raise CorruptState(f"{self.state_file} is {what}") from exc
        return LabState.from_json(data, decode)

    def write(self, state: LabState) -> None:
        """Atomically replace state.json."""
        self.ensure()
        atomic_write(self.state_file, json.dumps(state.to_json(), indent=2).encode())

    def clear(self) -> None:
        """Remove state.json (the folder and the lock stay)."""
        self.remove(STATE_FILE)

    def remove(self, name: str) -> None:
        """Remove a file of the folder if it is there; exit 4 for what lab never writes (a folder)."""
        path = self.path / name
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:  # a folder in its place: not lab's to delete
            raise unusable(path, "remove", exc) from exc

    def write_private(self, name: str, data: bytes) -> Path:
        """Write a file only the user can read (keys, tokens): 0600, atomically, never through a symlink."""
        self.ensure()
        path = self.path / name
        atomic_write(path, data, 0o600)
        return path
