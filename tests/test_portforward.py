"""The port-forward helper's connections (lab.engines.kube.portforward) against the fake API server."""

from __future__ import annotations

import socket
import threading
from typing import Any

import pytest

from lab.engines.kube.portforward import Pods, core_api, handle
from lab.engines.kube.tunnel import Forward, TunnelConfig
from tests.fakes.world import World

SELECTOR = "api-gateway.consul.hashicorp.com/name=gw"


def ready_gateway_pod(world: World, ns: str, name: str) -> None:
    """A Running, Ready gateway pod in the fake cluster (what the helper looks its pods up among)."""
    pod = {
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": {"api-gateway.consul.hashicorp.com/name": "gw"},
        },
        "spec": {"containers": [{"name": "envoy", "image": "envoy", "ports": [{"containerPort": 8443}]}]},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]},
    }
    with world.kube.lock:
        world.kube.cluster.put(world.kube.cluster.key("Pod", ns, name), "Pod", "v1", pod)


def test_a_stream_being_opened_leaves_another_connections_pod_lookup_a_plain_api_call(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """kubernetes.stream swaps the API client's call for a websocket one while it opens a stream.

    On a client the helper's connection threads share, a pod lookup made meanwhile went out as a
    port-forward websocket and failed ("Missing required parameter `ports`"), losing that connection:
    5-12 of ~240 requests of a `lab check` on a busy machine. Widened here: the API server is slow to
    upgrade the first stream, and another listener's first connection looks its pod up meanwhile.
    """
    from kubernetes.stream import ws_client

    kubeconfig = world.use_kubeconfig()
    ready_gateway_pod(world, "lab-alice", "gw-1")
    pods = Pods(core_api(TunnelConfig(str(kubeconfig), "workshop", (), str(world.tmp / "runtime.json"))), 5)
    opening, release = threading.Event(), threading.Event()
    real_open = ws_client.create_websocket

    def slow_open(*args: Any, **kw: Any) -> Any:
        if not opening.is_set():
            opening.set()
            release.wait(10)
        return real_open(*args, **kw)

    monkeypatch.setattr(ws_client, "create_websocket", slow_open)
    helper_end, client_end = socket.socketpair()
    first = threading.Thread(target=handle, args=(helper_end, Forward("lab-alice", SELECTOR, 8443), pods, 5))
    first.start()
    try:
        assert opening.wait(10), "the first connection never opened its stream"
        assert pods.pick(Forward("lab-alice", SELECTOR, 9443)) == "gw-1"
    finally:
        release.set()
        first.join(10)
        client_end.close()


def test_the_fake_gateway_pod_answers_while_another_connection_has_not_sent_its_tls_hello(
    world: World,
) -> None:
    """Envoy shakes hands on each connection apart; a silent client holds up no other.

    The fake once did every handshake in its one accepting thread: under load its queue of 5 filled,
    the fake API server's dial to the pod timed out ("i/o timeout") and the helper lost a connection.
    """
    import requests

    from tests.fakes import tls

    ca = world.tmp / "ca.pem"
    ca.write_bytes(world.ca_pem)
    pod = tls.FakeGateway(world.log, pick=lambda path: ("echo-1-x", "default"), serving=True)
    server, port = tls.serve_gateway(pod, world._cert, world._key)
    try:
        with socket.create_connection(("127.0.0.1", port)):  # connected, says nothing
            answer = requests.get(f"https://localhost:{port}/echo", verify=str(ca), timeout=5)
        assert answer.status_code == 200 and "echo-1-x" in answer.text
        assert server.request_queue_size >= 128  # Envoy listens with somaxconn on Linux
    finally:
        server.shutdown()
        server.server_close()
