"""Fake kind, helm and kubectl executables: small Python scripts that log argv and answer like the real ones.

State shared with the test lives in FAKE_STATE_DIR (clusters.json, helm.json); every call is appended
to FAKE_LOG as a JSON line. FAKE_HELM_MODE selects helm failure modes; FAKE_KIND_VERSION,
FAKE_HELM_VERSION and FAKE_KUBECTL_VERSION the version each tool reports.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

COMMON = r"""
import json, os, sys, time
STATE = os.environ["FAKE_STATE_DIR"]
def log(tool, argv, **extra):
    entry = {"t": time.time(), "src": tool, "argv": argv, "KUBECONFIG": os.environ.get("KUBECONFIG")}
    entry.update(extra)
    with open(os.environ["FAKE_LOG"], "a") as fh:
        fh.write(json.dumps(entry) + "\n")
def load(name, default):
    try:
        with open(os.path.join(STATE, name)) as fh:
            return json.load(fh)
    except FileNotFoundError:
        return default
def save(name, data):
    with open(os.path.join(STATE, name), "w") as fh:
        json.dump(data, fh)
def opt(argv, name):
    for i, a in enumerate(argv):
        if a == name and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None
"""

KIND = (
    COMMON
    + r'''
argv = sys.argv[1:]
log("kind", argv)
clusters = load("clusters.json", [])
VERSION = os.environ.get("FAKE_KIND_VERSION", "v0.11.1")
if argv[:1] == ["version"]:
    print(f"kind {VERSION} go1.16.4 linux/amd64"); sys.exit(0)
# kind v0.11.1 pkg/apis/config/v1alpha4/types.go: the fields a v1alpha4 Cluster may have (decoded
# strictly, pkg/internal/apis/config/encoding/load.go L66-93); later releases added dnsSearch.
FIELDS = {
    "cluster": {"kind", "apiVersion", "name", "nodes", "networking", "featureGates", "runtimeConfig",
                "kubeadmConfigPatches", "kubeadmConfigPatchesJSON6902", "containerdConfigPatches",
                "containerdConfigPatchesJSON6902"},
    "node": {"role", "image", "labels", "extraMounts", "extraPortMappings", "kubeadmConfigPatches",
             "kubeadmConfigPatchesJSON6902"},
    "networking": {"ipFamily", "apiServerPort", "apiServerAddress", "podSubnet", "serviceSubnet",
                   "disableDefaultCNI", "kubeProxyMode"},
    "port": {"containerPort", "hostPort", "listenAddress", "protocol"},
}
def check_config(path):
    """kind v0.11.1 encoding/load.go Parse and config/validate.go Validate, as messages."""
    import yaml
    cfg = yaml.safe_load(open(path))
    if cfg.get("apiVersion") != "kind.x-k8s.io/v1alpha4":
        return f"unknown apiVersion: {cfg.get('apiVersion')}"
    if cfg.get("kind") != "Cluster":
        return f"unknown kind {cfg.get('kind')} for apiVersion: kind.x-k8s.io/v1alpha4"
    def unknown(obj, kind, typ):
        extra = sorted(set(obj or {}) - FIELDS[kind])
        return f"unable to decode config: yaml: unmarshal errors:\n  field {extra[0]} not found in type v1alpha4.{typ}" if extra else None
    problems = [unknown(cfg, "cluster", "Cluster"), unknown(cfg.get("networking"), "networking", "Networking")]
    for node in cfg.get("nodes") or []:
        problems.append(unknown(node, "node", "Node"))
        for m in node.get("extraPortMappings") or []:
            problems.append(unknown(m, "port", "PortMapping"))
            for f in ("hostPort", "containerPort"):
                if not -1 <= int(m.get(f, 0)) <= 65535:
                    problems.append(f"invalid configuration for node 0: invalid {f}: invalid port number: {m[f]}")
        if node.get("role", "control-plane") not in ("control-plane", "worker"):
            problems.append(f'invalid configuration for node 0: "{node["role"]}" is not a valid node role')
    if not any(n.get("role", "control-plane") == "control-plane" for n in cfg.get("nodes") or [{}]):
        problems.append("must have at least one control-plane node")
    return next((p for p in problems if p), None)
def write_kubeconfig(path, name):
    """The kubeconfig kind writes with --kubeconfig, pointing at the fake API server."""
    with open(path, "w") as fh:
        fh.write(f"""apiVersion: v1
kind: Config
clusters:
- cluster:
    server: {os.environ["FAKE_KUBE_URL"]}
  name: kind-{name}
contexts:
- context:
    cluster: kind-{name}
    user: kind-{name}
  name: kind-{name}
current-context: kind-{name}
preferences: {{}}
users:
- name: kind-{name}
  user:
    token: fake-token
""")
if argv[:2] == ["get", "clusters"]:
    if not clusters:
        print("No kind clusters found.", file=sys.stderr)
    for c in clusters:
        print(c)
    sys.exit(0)
if argv[:2] == ["create", "cluster"]:
    name = opt(argv, "--name") or "kind"
    if name in clusters:
        print(f'ERROR: failed to create cluster: node(s) already exist for a cluster with the name "{name}"', file=sys.stderr)
        sys.exit(1)
    config = opt(argv, "--config")
    problem = check_config(config) if config else None
    if problem:
        print(f"ERROR: failed to create cluster: {problem}", file=sys.stderr); sys.exit(1)
    image = opt(argv, "--image") or "kindest/node:v1.21.1"
    print(f"Creating cluster \"{name}\" ...", file=sys.stderr)
    print(f" ✓ Ensuring node image ({image.split('@')[0]}) 🖼", file=sys.stderr)
    if image.split("@")[0] in os.environ.get("FAKE_HOST_CANNOT_BOOT", "").split(","):
        # what a node image that cannot boot on this host looks like (kind issue #2731)
        print(" ✗ Starting control-plane 🕹️\nERROR: failed to create cluster: failed to init node with kubeadm: "
              f'command "docker exec --privileged {name}-control-plane kubeadm init --skip-phases=preflight '
              '--config=/kind/kubeadm.conf --skip-token-print --v=6" failed with error: exit status 1', file=sys.stderr)
        sys.exit(1)
    clusters.append(name); save("clusters.json", clusters)
    if os.environ.get("FAKE_KIND_CREATE_HANGS"):
        # the node container exists and kubeadm init never returns (kind v0.11.1 pkg/cluster/internal/
        # create/actions/kubeadminit/init.go runs it without a deadline of its own)
        print(" • Starting control-plane 🕹️  ...", file=sys.stderr); sys.stderr.flush()
        time.sleep(120)
    write_kubeconfig(opt(argv, "--kubeconfig"), name)
    sys.exit(0)
if argv[:2] == ["export", "kubeconfig"]:
    name = opt(argv, "--name") or "kind"
    if name not in clusters:
        print(f'ERROR: could not locate any control plane nodes for cluster named "{name}"', file=sys.stderr); sys.exit(1)
    write_kubeconfig(opt(argv, "--kubeconfig"), name)
    sys.exit(0)
if argv[:2] == ["delete", "cluster"]:
    name = opt(argv, "--name") or "kind"
    if name in clusters:
        clusters.remove(name); save("clusters.json", clusters)
        import urllib.request
        url = os.environ["FAKE_KUBE_URL"] + "/_fake/cluster-deleted"
        urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=5).read()
        try:
            os.remove(os.path.join(STATE, "helm.json"))  # the release lived in the cluster
        except FileNotFoundError:
            pass
    print(f"Deleting cluster \"{name}\" ...", file=sys.stderr)
    sys.exit(0)
if argv[:2] == ["load", "docker-image"]:
    present = load("docker_images.json", [])
    if argv[-1] not in present:
        print(f'ERROR: image: "{argv[-1]}" not present locally', file=sys.stderr); sys.exit(1)
    if argv[-1] in os.environ.get("FAKE_KIND_LOAD_HANGS", "").split(","):
        time.sleep(120)  # `docker save` of a large image into a stuck containerd
    if argv[-1] in os.environ.get("FAKE_KIND_LOAD_FAILS", "").split(","):
        # kind v0.11.1 pkg/cluster/nodeutils/util.go L79 LoadImageArchive: `ctr images import -` in the node
        print('ERROR: failed to load image: command "docker exec --privileged -i lab-control-plane ctr '
              '--namespace=k8s.io images import -" failed with error: exit status 1\n'
              "Command Output: ctr: content digest sha256:0f1e: not found", file=sys.stderr)
        sys.exit(1)
    sys.exit(0)
print("unknown kind command", argv, file=sys.stderr); sys.exit(2)
'''
)

HELM = (
    COMMON
    + r"""
# Modelled on helm v3.9.4: cmd/helm/upgrade.go (upgrade --install installs when there is no history,
# L94-128, and wraps errors as "UPGRADE FAILED", L200; cmd/helm/install.go "INSTALLATION FAILED",
# L127), pkg/action/upgrade.go L182-185 (a pending release refuses: errPending, action.go L62),
# pkg/action/rollback.go L108-118 (rollback to the previous revision), cmd/helm/uninstall.go L64 and
# cmd/helm/rollback.go L73 (their output). --wait polls the fake cluster until the release's pods are
# Ready, measuring --timeout in the fakes' virtual time.
import urllib.request
argv = sys.argv[1:]
mode = os.environ.get("FAKE_HELM_MODE", "")
stdin = None
if "-" in argv and opt(argv, "--values") == "-":
    stdin = sys.stdin.read()
log("helm", argv, stdin=json.loads(stdin) if stdin else None)
METADATA = {"apiVersion": "v2", "name": "consul", "version": "0.40.0", "appVersion": "1.11.2",
            "kubeVersion": ">=1.18.0-0", "description": "Official HashiCorp Consul Chart", "type": "application"}
VERSION = os.environ.get("FAKE_HELM_VERSION", "v3.9.4")
release = load("helm.json", None)
def fail(msg, code=1):
    print(msg, file=sys.stderr); sys.exit(code)
def cluster(action, namespace, hostports=True):
    url = f"{os.environ['FAKE_KUBE_URL']}/_fake/helm-{action}?namespace={namespace}&hostports={str(hostports).lower()}"
    return json.loads(urllib.request.urlopen(urllib.request.Request(url, data=b"{}", method="POST"), timeout=5).read())
def seconds(text):
    units = {"s": 1, "m": 60, "h": 3600}
    return float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text or 300)
def status_json(rel):
    return {"name": "consul", "namespace": rel["namespace"], "version": rel["revision"],
            "info": {"status": rel["status"], "first_deployed": "2022-02-01T10:00:00Z",
                     "last_deployed": "2022-02-01T10:00:00Z", "deleted": "", "description": rel["description"]},
            "chart": {"metadata": METADATA}, "manifest": "", "config": rel["values"]}
def record(rel, status, description):
    rel["status"], rel["description"] = status, description
    rel.setdefault("history", [])
    rel["history"] = [h for h in rel["history"] if h["revision"] != rel["revision"]]
    rel["history"].append({"revision": rel["revision"], "updated": "2022-02-01T10:00:00Z", "status": status,
                           "chart": "consul-0.40.0", "app_version": "1.11.2", "description": description})
    save("helm.json", rel)
if argv[:1] == ["version"]:
    if opt(argv, "--template"):
        sys.stdout.write(VERSION); sys.exit(0)
    print(VERSION + "+gdbc6d8e"); sys.exit(0)
if argv[:2] == ["show", "chart"]:
    if mode == "chart-not-found":
        fail('Error: chart "consul" version "0.40.0" not found in https://helm.releases.hashicorp.com repository')
    import yaml
    print(yaml.safe_dump(METADATA)); sys.exit(0)
if argv[:1] == ["pull"]:
    import io, tarfile, yaml
    dest = opt(argv, "--destination")
    data = yaml.safe_dump(METADATA).encode()
    with tarfile.open(os.path.join(dest, "consul-0.40.0.tgz"), "w:gz") as tar:
        info = tarfile.TarInfo("consul/Chart.yaml"); info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    sys.exit(0)
# releases live in a namespace (helm v3.9.4 pkg/storage: one Secret per revision in the release's namespace)
if release is not None and release["namespace"] != (opt(argv, "--namespace") or "default"):
    release = None
if argv[:1] in (["status"], ["get"], ["history"], ["rollback"], ["uninstall"]) and release is None:
    fail("Error: release: not found" if argv[0] != "uninstall" else "Error: uninstall: Release not loaded: consul: release: not found")
if argv[:1] == ["status"]:
    if mode == "status-hangs":
        time.sleep(120)  # an API server connection that never answers (helm's client sets no timeout)
    print(json.dumps(status_json(release))); sys.exit(0)
if argv[:2] == ["get", "values"]:
    print(json.dumps(release["values"])); sys.exit(0)
if argv[:1] == ["history"]:
    print(json.dumps(release.get("history", []))); sys.exit(0)
if argv[:1] == ["upgrade"]:
    namespace = opt(argv, "--namespace") or "default"
    installing = release is None
    if not installing and release["status"].startswith("pending-"):
        fail("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")
    if not installing:
        for h in release.get("history", []):
            if h["status"] == "deployed":
                h["status"] = "superseded"
    release = release or {"namespace": namespace, "revision": 0, "history": []}
    release.update(revision=release["revision"] + 1, values=json.loads(stdin or "{}"))
    record(release, "pending-install" if installing else "pending-upgrade",
           "Initial install underway" if installing else "Preparing upgrade")
    gateway_class = ((json.loads(stdin or "{}").get("apiGateway") or {}).get("managedGatewayClass") or {})
    state = cluster("install", namespace, gateway_class.get("useHostPorts", False))
    if mode == "interrupt":
        sys.exit(130)  # killed during --wait: the release stays pending
    if mode == "hang":
        time.sleep(120)  # stuck past its own --timeout (a connection client-go never times out)
    deadline = state["now"] + seconds(opt(argv, "--timeout") or "5m")
    real_deadline = time.time() + 60  # never outlive a test that stopped moving virtual time
    while "--wait" in argv and not state["ready"]:
        if state["now"] > deadline or time.time() > real_deadline:
            record(release, "failed", f'Release "consul" failed: timed out waiting for the condition')
            fail(("Error: INSTALLATION FAILED: " if installing else "Error: UPGRADE FAILED: ")
                 + "timed out waiting for the condition")
        time.sleep(0.02)
        state = cluster("ready", namespace)
    cluster("deployed", namespace)
    record(release, "deployed", "Install complete" if installing else "Upgrade complete")
    print(json.dumps(status_json(release))); sys.exit(0)
if argv[:1] == ["rollback"]:
    target = int(argv[2]) if len(argv) > 2 and argv[2].isdigit() else release["revision"] - 1
    previous = next((h for h in release.get("history", []) if h["revision"] == target), None)
    if previous is None:
        fail("Error: release: not found")
    for h in release["history"]:
        if h["status"] in ("deployed", "failed") or h["status"].startswith("pending-"):
            h["status"] = "superseded" if h["status"] == "deployed" else h["status"]
    release["revision"] += 1
    cluster("deployed", release["namespace"])
    record(release, "deployed", f"Rollback to {target}")
    print("Rollback was a success! Happy Helming!"); sys.exit(0)
if argv[:1] == ["uninstall"]:
    cluster("uninstall", release["namespace"])
    os.remove(os.path.join(STATE, "helm.json"))
    print('release "consul" uninstalled'); sys.exit(0)
fail(f"unknown helm command {argv}", 2)
"""
)


KUBECTL = (
    COMMON
    + r"""
argv = sys.argv[1:]
log("kubectl", argv)
if argv[:2] == ["version", "--client"]:
    print("Client Version: " + os.environ.get("FAKE_KUBECTL_VERSION", "v1.21.1")); print("Kustomize Version: v4.0.5")
    sys.exit(0)
print("fake kubectl: only `version --client` is answered", file=sys.stderr); sys.exit(1)
"""
)


def install(bin_dir: Path, tools: tuple[str, ...] = ("kind", "helm", "kubectl")) -> None:
    """Write the fake executables into `bin_dir`."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    sources = {"kind": KIND, "helm": HELM, "kubectl": KUBECTL}
    for tool in tools:
        path = bin_dir / tool
        path.write_text(f"#!{sys.executable}\n" + sources[tool])
        os.chmod(path, 0o755)  # noqa: S103 - an executable
