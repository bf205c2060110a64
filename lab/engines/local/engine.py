"""The embedded engine (`--engine local`): the lab as one background process, no Docker.

`up` checks the listener ports, makes the lab CA, starts `python -m lab.engines.local.server`
detached (own session, log in the state folder), waits for its runtime record and converges.
`switch` and `lab apply` talk to the process's admin endpoint (127.0.0.1, bearer token 0600).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from lab.engines.base import EngineOptions, Progress, StatusRow
from lab.engines.local import ports
from lab.engines.local.config import CONFIG_FILE, LOG_FILE, RUNTIME_FILE, TOKEN_FILE, ServerConfig
from lab.errors import EnvironmentNotReady, InvalidInput, LabError, NotConverged
from lab.spec.plan import Plan, StepPlan
from lab.spec.topology import Topology
from lab.state import LabState
from lab.traffic.converge import converge_step

T = TypeVar("T")
SERVER_MODULE = "lab.engines.local.server"
# Files `down` removes (the CA and server certificate stay, so curl --cacert keeps working).
RUNTIME_FILES = (RUNTIME_FILE, CONFIG_FILE, TOKEN_FILE, LOG_FILE)
LOG_TAIL = 15


def pid_alive(pid: int | None) -> bool:
    """True while the process exists and is not a zombie (reaps it when it is our child)."""
    if not pid:
        return False
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


def is_lab_process(pid: int) -> bool:
    """True when pid runs the lab server module (never signal a recycled pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return pid_alive(pid)
    return SERVER_MODULE.encode() in cmdline


def wait_for(
    condition: Callable[[], T | None],
    timeout: float,
    interval: float,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T | None:
    """Poll `condition` until it returns a value or `timeout` passes (then None)."""
    deadline = clock() + timeout
    while True:
        value = condition()
        if value is not None:
            return value
        if clock() >= deadline:
            return None
        sleep(interval)


def log_tail(path: Path, lines: int = LOG_TAIL) -> list[str]:
    """The last lines of the lab process's log."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    except OSError:
        return []


def stop_process(pid: int, grace: float, interval: float) -> str:
    """SIGTERM, wait up to `grace` s, then SIGKILL; say which it took."""
    if not pid_alive(pid):
        return "already gone"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if wait_for(lambda: True if not pid_alive(pid) else None, grace, interval):
        return "stopped (SIGTERM)"
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if wait_for(lambda: True if not pid_alive(pid) else None, grace, interval):
        return f"killed (SIGKILL after {grace:g} s)"
    raise EnvironmentNotReady(f"lab process {pid} survives SIGKILL", fix=f"check `ps -o stat {pid}`")


def _freed(bind: str, port: int) -> Callable[[], bool | None]:
    return lambda: True if ports.is_free(bind, port) else None


def _files(plan: Plan, step: StepPlan) -> tuple[str, ...]:
    out: list[str] = []
    for f in (*plan.base_files, *step.files):
        if str(f) not in out:
            out.append(str(f))
    return tuple(out)


def _applied(step: StepPlan) -> tuple[str, ...]:
    return tuple(f"{r.group}/{r.kind}/{r.namespace or ''}/{r.name}" for r in step.resources)


def _error_from(exit_code: int, message: str) -> LabError:
    if exit_code == 3:
        return InvalidInput(message)
    if exit_code == 4:
        return EnvironmentNotReady(message)
    return NotConverged(message)


class LocalEngine:
    """The embedded engine; see the module docstring."""

    name: ClassVar[str] = "local"

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.state_dir = options.state
        self.timeouts = options.timeouts

    # -- paths ---------------------------------------------------------------------------------
    def _path(self, name: str) -> Path:
        return self.state_dir.path / name

    def _check_ports(self, step: StepPlan) -> dict[int, int]:
        remap = dict(self.options.port_map)
        wanted = {
            lst.port: remap.get(lst.port, lst.port)
            for lst in Topology(step.resources).listeners()
            if lst.protocol in ("HTTP", "HTTPS")
        }
        for listener_port, local in wanted.items():
            if ports.is_free(self.options.bind, local):
                continue
            holder = ports.owner(local)
            raise EnvironmentNotReady(
                f"port {local} on {self.options.bind} (Gateway listener {listener_port}) is already in use"
                + (f" by {holder}" if holder else ""),
                fix=f"stop what holds it, or remap the listener: --port {listener_port}={ports.free_port()}",
            )
        return wanted

    def _spawn(self, config: ServerConfig) -> subprocess.Popen[bytes]:
        config_path = self._path(CONFIG_FILE)
        config_path.write_text(json.dumps(config.to_json(), indent=2), encoding="utf-8")
        with contextlib.suppress(FileNotFoundError):
            self._path(RUNTIME_FILE).unlink()
        with open(self._path(LOG_FILE), "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", SERVER_MODULE, "--config", str(config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
                cwd=self.state_dir.path,
            )

    def _runtime(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self._path(RUNTIME_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> dict[str, Any]:
        def ready() -> dict[str, Any] | bool | None:
            if proc.poll() is not None:
                return False
            runtime = self._runtime()
            return runtime if runtime and runtime.get("pid") == proc.pid else None

        result = wait_for(ready, self.timeouts.local_start, self.timeouts.local_poll)
        if isinstance(result, dict):
            return result
        tail = "\n    ".join(log_tail(self._path(LOG_FILE)))
        if result is False:
            code = proc.returncode
            raise _error_from(code, f"the lab process exited with status {code} while starting:\n    {tail}")
        stop_process(proc.pid, self.timeouts.local_stop, self.timeouts.local_poll)
        raise NotConverged(
            f"the lab process did not become ready within {self.timeouts.local_start:g} s:\n    {tail}",
            fix=f"see {self._path(LOG_FILE)}",
        )

    def _state(self, plan: Plan, step: StepPlan, runtime: Mapping[str, Any], **extra: Any) -> LabState:
        return LabState(
            engine=self.name,
            scenario=plan.scenario.name,
            step=step.step.name,
            lab_dir=str(plan.lab_dir.root),
            started_at=float(runtime.get("started_at", time.time())),
            gateway_host="localhost",
            ports={int(k): int(v) for k, v in (runtime.get("ports") or {}).items()},
            ca_file=str(self._path("ca.pem")),
            pid=int(runtime["pid"]),
            applied=_applied(step),
            extra={
                "admin_port": int(runtime["admin_port"]),
                "bind": runtime.get("bind", self.options.bind),
                "files": list(runtime.get("files") or ()),
                "pods": list(runtime.get("pods") or ()),
                "not_emulated": list(runtime.get("not_emulated") or ()),
                "log": str(self._path(LOG_FILE)),
                **extra,
            },
        )

    # -- the Engine protocol -------------------------------------------------------------------
    def up(self, plan: Plan, step: StepPlan, progress: Progress) -> LabState:
        """Start the lab process for `step` (ports checked first) and converge."""
        mapping = self._check_ports(step)
        progress("ports: " + ", ".join(f"{k} -> {self.options.bind}:{v}" for k, v in mapping.items()))
        from lab.engines.local.pki import ensure_tls  # cryptography: only `up` makes certificates

        tls = ensure_tls(self.state_dir)
        progress(f"lab CA: {tls.ca_file}")
        self.state_dir.write_private(TOKEN_FILE, secrets.token_urlsafe(32).encode())
        config = ServerConfig(
            state_dir=str(self.state_dir.path),
            files=_files(plan, step),
            bind=self.options.bind,
            port_map=self.options.port_map,
            ca_file=str(tls.ca_file),
            cert_file=str(tls.cert_file),
            key_file=str(tls.key_file),
            seed=self.options.seed,
        )
        proc = self._spawn(config)
        progress(f"lab process: started pid {proc.pid} (log {self._path(LOG_FILE)})")
        runtime = self._wait_ready(proc)
        state = self._state(plan, step, runtime)
        self.state_dir.write(state)
        progress("converge: waiting for " + ", ".join(t.traffic.path for t in step.traffic))
        converge_step(state, step, self.timeouts)
        return state

    def _admin(self, state: LabState, method: str, path: str, body: Any = None) -> dict[str, Any]:
        import requests  # ~50 ms: only the commands that talk to the lab process need it

        port = state.extra.get("admin_port")
        try:
            token = self._path(TOKEN_FILE).read_text(encoding="utf-8").strip()
            with requests.Session() as session:
                session.trust_env = False  # 127.0.0.1: never through a proxy from the environment
                response = session.request(
                    method,
                    f"http://127.0.0.1:{port}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeouts.local_admin,
                )
        except (OSError, requests.RequestException) as exc:
            raise EnvironmentNotReady(
                f"the lab process (pid {state.pid}) does not answer on its admin port {port}: "
                f"{type(exc).__name__}",
                fix="`lab status` shows whether it crashed; `lab down` cleans up",
            ) from exc
        data = response.json()
        if response.status_code != 200:
            raise _error_from(int(data.get("exit_code", 5)), str(data.get("error")))
        return dict(data)

    def switch(self, state: LabState, plan: Plan, step: StepPlan, progress: Progress) -> LabState:
        """Send the step's full file list to the lab process (it applies what differs); converge."""
        files = _files(plan, step)
        progress(f"apply: {len(files)} manifest file(s) to the running lab (pid {state.pid})")
        runtime = self._admin(state, "POST", "/apply", {"files": list(files)})
        new = self._state(plan, step, runtime, **{k: v for k, v in state.extra.items() if k == "no_check"})
        new = dataclasses.replace(new, started_at=state.started_at)
        self.state_dir.write(new)
        progress("converge: waiting for " + ", ".join(t.traffic.path for t in step.traffic))
        converge_step(new, step, self.timeouts)
        return new

    def status(self, state: LabState) -> list[StatusRow]:
        """Rows for `lab status`, from the live process (or "crashed" and its last log lines)."""
        rows = [StatusRow("engine", self.name, "embedded: no Docker, no Kubernetes")]
        rows.append(StatusRow("scenario", state.scenario, f"step {state.step}"))
        log = Path(str(state.extra.get("log") or self._path(LOG_FILE)))
        if not pid_alive(state.pid):
            rows.append(StatusRow("lab process", "crashed", f"pid {state.pid} is gone; `lab down` cleans up"))
            rows += [StatusRow("log", "", line) for line in log_tail(log)]
            return rows
        runtime = self._admin(state, "GET", "/status")
        schemes = runtime.get("schemes") or {}
        for listener in sorted(runtime.get("ports") or {}):
            url = state.gateway_url(int(listener), "/", schemes.get(listener, "https"))
            rows.append(StatusRow("gateway", "listening", f"{url} (listener port {listener})"))
        rows.append(StatusRow("CA bundle", "", state.ca_file))
        uptime = int(time.time() - state.started_at)
        rows.append(
            StatusRow("lab process", "running", f"pid {state.pid}, up {uptime // 60}m{uptime % 60:02d}s")
        )
        for pod in runtime.get("pods") or ():
            services = ", ".join(pod.get("services") or ()) or "-"
            rows.append(
                StatusRow(f"pod {pod['name']}", "running", f"service {services}, 127.0.0.1:{pod['port']}")
            )
        for item in runtime.get("not_emulated") or ():
            rows.append(StatusRow(item["ref"], "not emulated", item["reason"]))
        rows += [StatusRow(c["ref"], c["state"], c["detail"]) for c in runtime.get("conditions") or ()]
        for f in runtime.get("findings") or ():
            kind = f" kind engine: {f['kind_engine']}" if f.get("kind_engine") else ""
            rows.append(StatusRow(f["ref"], "warning", f"{f['message']}; effect: {f['effect']}.{kind}"))
        return rows

    def objects(self, state: LabState) -> list[dict[str, Any]]:
        """Every resource the lab process applied, with the status its controller writes (`lab get`)."""
        return list(self._admin(state, "GET", "/objects").get("items") or ())

    def down(self, state: LabState | None, progress: Progress) -> None:
        """Stop the lab process (SIGTERM, deadline, SIGKILL), check its ports are free, remove state."""
        if state is not None and state.pid and is_lab_process(state.pid):
            how = stop_process(state.pid, self.timeouts.local_stop, self.timeouts.local_poll)
            progress(f"lab process {state.pid}: {how}")
        elif state is not None and state.pid:
            progress(f"lab process {state.pid}: already gone")
        if state is not None:
            bind = str(state.extra.get("bind", self.options.bind))
            for local in state.ports.values():
                if not wait_for(_freed(bind, local), self.timeouts.local_stop, self.timeouts.local_poll):
                    holder = ports.owner(local)
                    progress(f"warning: port {local} is still in use" + (f" by {holder}" if holder else ""))
        for name in RUNTIME_FILES:
            with contextlib.suppress(FileNotFoundError):
                self._path(name).unlink()
        self.state_dir.clear()
