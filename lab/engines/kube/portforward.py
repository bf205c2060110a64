"""The port-forward helper: a background process forwarding 127.0.0.1 ports to the lab's gateway pod.

`python -m lab.engines.kube.portforward --config <state>/portforward.json`, started detached by the
cluster engine (lab.engines.kube.tunnel). Every local connection gets its own stream opened with the
kubernetes client (kubernetes.stream.portforward: the websocket protocol v4.channel.k8s.io, as the
kubelet serves it) to a Ready pod of the gateway; the pod is looked up again after a stream fails,
so a restarted gateway pod is followed and a dropped stream costs one connection, not the lab.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import selectors
import signal
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lab.engines.kube.tunnel import Forward, TunnelConfig
from lab.state import atomic_write


def log(message: str) -> None:
    """One line to the helper's log (its stdout, which the engine sends to portforward.log)."""
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def core_api(config: TunnelConfig) -> Any:
    """CoreV1Api on the lab's kubeconfig and context (None: $KUBECONFIG or ~/.kube/config)."""
    from kubernetes import client
    from kubernetes import config as kube_config

    path = config.kubeconfig or os.environ.get("KUBECONFIG", os.path.join("~", ".kube", "config"))
    api_client = kube_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=path, context=config.context, persist_config=False
    )
    return client.CoreV1Api(api_client)


def _ready(pod: Any) -> bool:
    if (pod.status.phase or "") != "Running":
        return False
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


@dataclass
class Pods:
    """The pod each forward goes to, looked up by label selector and forgotten when a stream fails."""

    api: Any
    timeout: float
    chosen: dict[Forward, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def pick(self, forward: Forward) -> str | None:
        """The pod `forward` goes to: the one chosen before, else the first Ready match (None: none)."""
        with self.lock:
            if forward in self.chosen:
                return self.chosen[forward]
        found = self.api.list_namespaced_pod(
            forward.namespace, label_selector=forward.selector, _request_timeout=self.timeout
        )
        ready = sorted(str(p.metadata.name) for p in found.items if _ready(p))
        if not ready:
            log(f"no Ready pod matches {forward.selector} in {forward.namespace}")
            return None
        with self.lock:
            self.chosen[forward] = ready[0]
        return ready[0]

    def forget(self, forward: Forward) -> None:
        """Look the pod up again next time (its stream failed)."""
        with self.lock:
            self.chosen.pop(forward, None)


def relay(one: Any, other: Any) -> None:
    """Copy bytes both ways until either side closes."""
    flowing = True
    try:
        while flowing:
            readable, _, _ = select.select([one, other], [], [])
            for sock in readable:
                data = sock.recv(65536)
                flowing = bool(data)
                if not flowing:
                    break
                (other if sock is one else one).sendall(data)
    except OSError:
        return


def open_stream(api: Any, pod: str, forward: Forward, timeout: float) -> Any:
    """A port-forward stream to `pod`'s port, opened on an API client of its own.

    kubernetes.stream swaps the client's `call_api` for its websocket call while it opens a stream
    and then puts back what it found (kubernetes/stream/stream.py `_websocket_request`). On the
    client the connection threads share, a pod lookup made meanwhile went out as a port-forward
    ("Missing required parameter `ports`") and a stream opened meanwhile as a plain GET (400), as
    kubernetes-client/python issue #928 reports; a client per stream shares only the configuration.
    """
    from kubernetes import client
    from kubernetes.stream import portforward

    with client.ApiClient(api.api_client.configuration) as own:
        return portforward(
            client.CoreV1Api(own).connect_get_namespaced_pod_portforward,
            pod,
            forward.namespace,
            ports=str(forward.remote),
            _request_timeout=timeout,
        )


def handle(conn: socket.socket, forward: Forward, pods: Pods, timeout: float) -> None:
    """One local connection: a fresh port-forward stream to the gateway pod, relayed until closed."""
    try:
        pod = pods.pick(forward)
        if pod is None:
            return
        try:
            stream = open_stream(pods.api, pod, forward, timeout)
        except Exception as exc:  # the API server refused or the pod is gone: look it up again next time
            log(f"port-forward to {forward.namespace}/{pod}:{forward.remote} failed: {type(exc).__name__}: {exc}")
            pods.forget(forward)
            return
        remote = stream.socket(forward.remote)
        try:
            relay(conn, remote)
        finally:
            remote.close()
        error = stream.error(forward.remote)
        if error:
            log(f"port-forward to {forward.namespace}/{pod}:{forward.remote}: {error}")
            pods.forget(forward)
    except Exception as exc:  # one connection's failure never stops the helper
        log(f"connection on {forward.local}: {type(exc).__name__}: {exc}")
    finally:
        conn.close()


def serve(config: TunnelConfig, runtime: Path) -> None:
    """Listen on every forward's local port, write the runtime file, then accept until SIGTERM."""
    pods = Pods(core_api(config), config.request_timeout)
    chooser = selectors.DefaultSelector()
    bound: dict[str, int] = {}
    for forward in config.forwards:
        server = socket.create_server((config.bind, forward.local))
        chooser.register(server, selectors.EVENT_READ, forward)
        bound[str(forward.remote)] = int(server.getsockname()[1])
        log(f"forwarding {config.bind}:{bound[str(forward.remote)]} -> {forward.namespace} {forward.selector}:{forward.remote}")
    atomic_write(runtime, json.dumps({"pid": os.getpid(), "ports": bound}).encode())
    for events in iter(chooser.select, None):  # until SIGTERM ends the process
        for key, _ in events:
            conn, _ = key.fileobj.accept()  # type: ignore[union-attr]
            threading.Thread(
                target=handle, args=(conn, key.data, pods, config.request_timeout), daemon=True
            ).start()


def main(argv: list[str] | None = None) -> int:
    """Entry point of the helper process."""
    parser = argparse.ArgumentParser(prog="python -m lab.engines.kube.portforward")
    parser.add_argument("--config", required=True, type=Path)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    config = TunnelConfig.from_json(json.loads(args.config.read_text(encoding="utf-8")))
    try:
        serve(config, Path(config.runtime_file))
    except OSError as exc:
        log(f"cannot listen: {exc}")
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main())
