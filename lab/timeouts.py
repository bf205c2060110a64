"""Every wait's timeout in one table, with what it waits for. Engines and tests pass their own."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Timeouts:
    """Seconds (and counts) for each named wait."""

    # embedded engine: the background process has bound its ports and written its state
    local_start: float = 10.0
    # embedded engine: the background process exits after SIGTERM (then SIGKILL)
    local_stop: float = 5.0
    # embedded engine: one call to the lab process's admin endpoint (status, apply)
    local_admin: float = 30.0
    # embedded engine: interval between checks while its process starts or stops (it is fast)
    local_poll: float = 0.02
    # kind: `kind create cluster` until it returns (node image pulled, control plane initialised)
    cluster_create: float = 300.0
    # Gateway API / GatewayClassConfig CRDs until Established
    crd_established: float = 60.0
    # helm install of the Consul chart with --wait (a duration string for pyhelm3)
    helm_install: str = "10m"
    # how much longer than helm's own --timeout lab waits for helm to return
    helm_grace: float = 30.0
    # Consul server and controller pods Ready after helm returned
    consul_ready: float = 300.0
    # GatewayClass consul-api-gateway Accepted
    gateway_class_accepted: float = 120.0
    # Gateway Ready (pod and listeners up; not yet the routes)
    gateway_ready: float = 180.0
    # each HTTPRoute Accepted by the controller (long enough for a retrigger after a BindError)
    route_accepted: float = 120.0
    # a route still on BindError this long after its last event is retriggered (annotation bump):
    # consul-api-gateway v0.1.0-beta resolves backends 30 x 1 s per route event, then gives up
    route_retrigger: float = 35.0
    # server-side apply retried while the chart's webhooks (failurePolicy Fail) do not serve yet
    webhook_ready: float = 60.0
    # one Kubernetes API call (the client library sets no request timeout of its own)
    api_request: float = 30.0
    # one helm call that does not wait for pods (status, history, rollback); it is stopped after this
    helm_command: float = 60.0
    # helm, stuck past its own --timeout and helm_grace, exits after SIGTERM (then SIGKILL)
    tool_stop: float = 5.0
    # one kind command that is not `create cluster` (get clusters, export kubeconfig, load image)
    kind_command: float = 120.0
    # a wait repeats its progress line at least this often, even when nothing changed
    progress_every: float = 15.0
    # converge probe: the scenario's path answers 2xx `converge_successes` times in a row
    converge: float = 120.0
    converge_successes: int = 5
    # a Docker daemon ping (`lab doctor`, the kind engine's first check)
    docker_ping: float = 3.0
    # one download of a CRD file
    download: float = 30.0
    # interval between polls of any condition
    poll_interval: float = 0.5
    # one request of the converge probe or of the traffic driver
    request: float = 5.0
    # the state folder's lock while another lab command holds it
    state_lock: float = 30.0
    # cluster engine: the port-forward helper process listens on its local ports
    tunnel_start: float = 10.0
    # a quick question to the OS (`ss` for who holds a port)
    os_query: float = 3.0
    # `kind version`, `helm version`, `kubectl version --client` (`lab doctor`)
    tool_version: float = 10.0
    # `helm pull` of the chart archive into the prefetch cache
    chart_pull: float = 300.0


DEFAULT = Timeouts()
