"""The embedded engine (`--engine local`): the lab as one background process, no Docker.

`up` checks the listener ports, makes the lab CA, starts `python -m lab.engines.local.server`
detached (own session, log in the state folder), journals its pid and start time at once, waits for
its runtime record and converges. `switch` and `lab apply` talk to the process's admin endpoint
(127.0.0.1, bearer token 0600).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from lab.engines import processes
from lab.engines.base import EngineOptions, Journal, Liveness, PortMap, Progress, StatusRow
from lab.engines.local import ports, process
from lab.engines.local.config import CONFIG_FILE, LOG_FILE, RUNTIME_FILE, TOKEN_FILE, ServerConfig
from lab.engines.local.record import LocalRecord
from lab.errors import EnvironmentNotReady, InvalidInput, LabError, NotConverged
from lab.spec.plan import Plan, StepPlan
from lab.spec.topology import Topology
from lab.state import LabState, read_private
from lab.traffic.converge import converge_step
from lab.waiting import poll

# Files `down` removes (the CA and server certificate stay, so curl --cacert keeps working).
RUNTIME_FILES = (RUNTIME_FILE, CONFIG_FILE, TOKEN_FILE, LOG_FILE)


def _files(plan: Plan, step: StepPlan) -> tuple[str, ...]:
    out: list[str] = []
    for f in (*plan.base_files, *step.files):
        if str(f) not in out:
            out.append(str(f))
    return tuple(out)


def _error_from(exit_code: int, message: str) -> LabError:
    if exit_code == 3:
        return InvalidInput(message)
    if exit_code == 4:
        return EnvironmentNotReady(message)
    return NotConverged(message)


def gateway_host(bind: str) -> str:
    """The host in the lab's URLs: localhost (the certificate's name) unless bound to IPv6 loopback."""
    return "[::1]" if bind == "::1" else "localhost"


class LocalEngine:
    """The embedded engine; see the module docstring."""

    name: ClassVar[str] = "local"
    takes_cluster_options: ClassVar[bool] = False

    def __init__(self, options: EngineOptions) -> None:
        self.options = options
        self.state_dir = options.state
        self.timeouts = options.timeouts

    def _path(self, name: str) -> Path:
        return self.state_dir.path / name

    @staticmethod
    def _record(state: LabState) -> LocalRecord:
        return state.record if isinstance(state.record, LocalRecord) else LocalRecord()

    def private_port_map(self, plan: Plan) -> PortMap:
        """Every listener on a free port, so a user's own lab on 8443 can keep running."""
        listeners = sorted({lst.port for step in plan.steps for lst in step.topology.listeners()})
        return tuple((port, ports.free_port()) for port in listeners)

    def _check_ports(self, step: StepPlan) -> dict[int, int]:
        remap = dict(self.options.port_map)
        listeners = {lst.port for lst in Topology(step.resources).listeners() if lst.protocol in ("HTTP", "HTTPS")}
        unknown = sorted(set(remap) - listeners)
        if unknown:
            from lab.errors import UsageError

            raise UsageError(
                f"--port {unknown[0]}=...: the scenario has no Gateway listener on port {unknown[0]}; "
                f"its listeners: {', '.join(map(str, sorted(listeners))) or 'none'}"
            )
        wanted = {port: remap.get(port, port) for port in sorted(listeners)}
        for listener_port, local in wanted.items():
            ports.ensure_bindable(self.options.bind, local, listener_port)
        return wanted

    def _spawn(self, config: ServerConfig) -> subprocess.Popen[bytes]:
        self.state_dir.write_private(CONFIG_FILE, json.dumps(config.to_json(), indent=2).encode())
        self.state_dir.remove(RUNTIME_FILE)
        return process.SERVER.spawn(self._path(CONFIG_FILE), self._path(LOG_FILE), self.state_dir.path)

    def _wait_ready(self, proc: subprocess.Popen[bytes], started: float) -> dict[str, Any]:
        result = processes.wait_serving(
            proc,
            self._path(RUNTIME_FILE),
            what="the lab process to serve",
            budget=self.timeouts.local_start,
            interval=self.timeouts.local_poll,
        )
        if isinstance(result, dict):
            return result
        tail = "\n    ".join(process.log_tail(self._path(LOG_FILE)))
        if result is False:
            code = proc.returncode
            raise _error_from(code, f"the lab process exited with status {code} while starting:\n    {tail}")
        process.stop(process.LabProcess(proc.pid, started), self.timeouts.local_stop, self.timeouts.local_poll)
        raise NotConverged(
            f"the lab process did not become ready within {self.timeouts.local_start:g} s:\n    {tail}",
            fix=f"see {self._path(LOG_FILE)}",
        )

    def _serving(self, start: LabState, plan: Plan, step: StepPlan, runtime: dict[str, Any]) -> LabState:
        return replace(
            start,
            scenario=plan.scenario.name,
            step=step.step.name,
            gateway_host=gateway_host(str(runtime.get("bind", self.options.bind))),
            ports={int(k): int(v) for k, v in (runtime.get("ports") or {}).items()},
            ca_file=str(self._path("ca.pem")),
            files=tuple(str(f) for f in runtime.get("files") or ()),
            applied=tuple(r.key() for r in step.resources),
            record=replace(self._record(start), admin_port=int(runtime["admin_port"])),
        )

    def up(self, start: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal) -> LabState:
        """Start the lab process for `step` (ports checked first), journal it at once, converge."""
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
        started = process.started_at(proc.pid) or 0.0
        record = LocalRecord(pid=proc.pid, pid_started=started, bind=self.options.bind, log=str(self._path(LOG_FILE)))
        journal(replace(start, record=record))
        progress(f"lab process: started pid {proc.pid} (log {self._path(LOG_FILE)})")
        runtime = self._wait_ready(proc, started)
        state = self._serving(replace(start, record=record), plan, step, runtime)
        journal(state)
        progress("converge: waiting for " + ", ".join(t.traffic.path for t in step.traffic))
        converge_step(state, step, self.timeouts)
        return state

    def _admin(self, state: LabState, method: str, path: str, body: Any = None) -> dict[str, Any]:
        import requests  # ~50 ms: only the commands that talk to the lab process need it

        record = self._record(state)
        try:
            token = read_private(self._path(TOKEN_FILE), 4096).decode("utf-8").strip()
            with requests.Session() as session:
                session.trust_env = False  # 127.0.0.1: never through a proxy from the environment
                response = session.request(
                    method,
                    f"http://127.0.0.1:{record.admin_port}{path}",
                    json=body,
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=self.timeouts.local_admin,
                )
            data = response.json()
        except (OSError, ValueError, requests.RequestException) as exc:
            raise EnvironmentNotReady(
                f"the lab process (pid {record.pid}) does not answer on its admin port {record.admin_port}: "
                f"{type(exc).__name__}",
                fix="`lab status` shows whether it crashed; `lab down` cleans up",
            ) from exc
        if response.status_code != 200 or not isinstance(data, dict):
            error = data.get("error") if isinstance(data, dict) else data
            code = data.get("exit_code", 5) if isinstance(data, dict) else 5
            raise _error_from(int(code) if isinstance(code, int) else 5, str(error))
        return data

    def switch(self, state: LabState, plan: Plan, step: StepPlan, progress: Progress, journal: Journal) -> LabState:
        """Send the step's full file list to the lab process (it applies what differs); converge."""
        files = _files(plan, step)
        progress(f"apply: {len(files)} manifest file(s) to the running lab (pid {self._record(state).pid})")
        runtime = self._admin(state, "POST", "/apply", {"files": list(files)})
        new = self._serving(state, plan, step, runtime)
        journal(new)
        progress("converge: waiting for " + ", ".join(t.traffic.path for t in step.traffic))
        converge_step(new, step, self.timeouts)
        return new

    def alive(self, state: LabState) -> Liveness:
        """Alive while the recorded process (same pid and start time) runs; else its log's last lines."""
        record = self._record(state)
        if process.alive(record.pid, record.pid_started):
            return Liveness(True)
        tail = process.log_tail(Path(record.log or self._path(LOG_FILE)))
        detail = f"the lab process (pid {record.pid}) is gone"
        return Liveness(False, detail + ("; last lines of its log:\n    " + "\n    ".join(tail) if tail else ""))

    def leftovers(self) -> list[str]:
        """Lab processes started from this state folder's config (found by their command line)."""
        return [f"lab process pid {p.pid}" for p in process.find(self._path(CONFIG_FILE))]

    def status(self, state: LabState) -> list[StatusRow]:
        """Rows for `lab status`, from the live process (or "crashed" and its last log lines)."""
        record = self._record(state)
        rows = [StatusRow("engine", self.name, "embedded: no Docker, no Kubernetes")]
        rows.append(StatusRow("scenario", state.scenario, f"step {state.step}"))
        if not process.alive(record.pid, record.pid_started):
            rows.append(StatusRow("lab process", "crashed", f"pid {record.pid} is gone; `lab down` cleans up"))
            rows += [StatusRow("log", "", line) for line in process.log_tail(Path(record.log or self._path(LOG_FILE)))]
            return rows
        runtime = self._admin(state, "GET", "/status")
        schemes = runtime.get("schemes") or {}
        for listener in sorted(runtime.get("ports") or {}):
            url = state.gateway_url(int(listener), "/", schemes.get(listener, "https"))
            rows.append(StatusRow("gateway", "listening", f"{url} (listener port {listener})"))
        rows.append(StatusRow("CA bundle", "", state.ca_file))
        uptime = int(time.time() - state.started_at)
        rows.append(StatusRow("lab process", "running", f"pid {record.pid}, up {uptime // 60}m{uptime % 60:02d}s"))
        for pod in runtime.get("pods") or ():
            services = ", ".join(pod.get("services") or ()) or "-"
            rows.append(StatusRow(f"pod {pod['name']}", "running", f"service {services}, 127.0.0.1:{pod['port']}"))
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
        """Stop the lab process(es) of this state folder, check their ports are free, remove runtime files."""
        targets: dict[int, process.LabProcess] = {}
        record = self._record(state) if state is not None else LocalRecord()
        if record.pid and record.pid_started and process.is_lab_process(record.pid, record.pid_started):
            targets[record.pid] = process.LabProcess(record.pid, record.pid_started)
        elif record.pid:
            progress(f"lab process {record.pid}: already gone")
        for found in process.find(self._path(CONFIG_FILE)):
            if found.pid not in targets:
                progress(f"lab process {found.pid}: found running from {self._path(CONFIG_FILE)} without a record")
                targets[found.pid] = found
        for target in targets.values():
            how = process.stop(target, self.timeouts.local_stop, self.timeouts.local_poll)
            progress(f"lab process {target.pid}: {how}")
        if state is not None:
            for local in state.ports.values():

                def free(local: int = local) -> bool | None:
                    return True if ports.is_free(record.bind, local) else None

                freed = poll(
                    free,
                    what=f"port {local} to be free",
                    budget=self.timeouts.local_stop,
                    interval=self.timeouts.local_poll,
                )
                if not freed:
                    holder = ports.owner(local)
                    progress(f"warning: port {local} is still in use" + (f" by {holder}" if holder else ""))
        for name in RUNTIME_FILES:
            self.state_dir.remove(name)
