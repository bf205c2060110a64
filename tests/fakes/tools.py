"""Fake kind, helm and kubectl executables: small Python scripts that log argv and answer like the real ones.

State shared with the test lives in FAKE_STATE_DIR (clusters.json, helm.json); every call is appended
to FAKE_LOG as a JSON line. FAKE_HELM_MODE selects helm failure modes.
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
if argv[:1] == ["version"]:
    print("kind v0.11.1 go1.16.4 linux/amd64"); sys.exit(0)
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
    clusters.append(name); save("clusters.json", clusters)
    write_kubeconfig(opt(argv, "--kubeconfig"), name)
    print(f"Creating cluster \"{name}\" ...", file=sys.stderr)
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
    print(f"Deleting cluster \"{name}\" ...", file=sys.stderr)
    sys.exit(0)
if argv[:2] == ["load", "docker-image"]:
    present = load("docker_images.json", [])
    if argv[-1] not in present:
        print(f'ERROR: image: "{argv[-1]}" not present locally', file=sys.stderr); sys.exit(1)
    sys.exit(0)
print("unknown kind command", argv, file=sys.stderr); sys.exit(2)
'''
)

HELM = (
    COMMON
    + r"""
import urllib.request
argv = sys.argv[1:]
mode = os.environ.get("FAKE_HELM_MODE", "")
stdin = None
if "-" in argv and opt(argv, "--values") == "-":
    stdin = sys.stdin.read()
log("helm", argv, stdin=json.loads(stdin) if stdin else None)
METADATA = {"apiVersion": "v2", "name": "consul", "version": "0.40.0", "appVersion": "1.11.2",
            "kubeVersion": ">=1.18.0-0", "description": "Official HashiCorp Consul Chart", "type": "application"}
release = load("helm.json", None)
def fail(msg, code=1):
    print(msg, file=sys.stderr); sys.exit(code)
if argv[:1] == ["version"]:
    if opt(argv, "--template"):
        sys.stdout.write("v3.8.0"); sys.exit(0)
    print("v3.8.0+gd141386"); sys.exit(0)
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
def status_json(rel):
    return {"name": "consul", "namespace": rel["namespace"], "version": rel["revision"],
            "info": {"status": "deployed", "last_deployed": "2022-02-01T10:00:00Z", "description": rel["description"]},
            "chart": {"metadata": METADATA}, "manifest": "", "config": rel["values"]}
if argv[:1] == ["status"]:
    if release is None:
        fail("Error: release: not found")
    print(json.dumps(status_json(release))); sys.exit(0)
if argv[:2] == ["get", "values"]:
    if release is None:
        fail("Error: release: not found")
    print(json.dumps(release["values"])); sys.exit(0)
if argv[:1] == ["upgrade"]:
    if mode == "install-fails":
        fail("Error: UPGRADE FAILED: timed out waiting for the condition")
    namespace = opt(argv, "--namespace") or "default"
    revision = (release or {}).get("revision", 0) + 1
    release = {"namespace": namespace, "revision": revision, "values": json.loads(stdin or "{}"),
               "description": "Install complete" if revision == 1 else "Upgrade complete"}
    save("helm.json", release)
    req = urllib.request.Request(os.environ["FAKE_KUBE_URL"] + "/_fake/helm-installed?namespace=" + namespace,
                                 data=b"{}", method="POST")
    urllib.request.urlopen(req, timeout=5).read()
    print(json.dumps(status_json(release))); sys.exit(0)
if argv[:1] == ["uninstall"]:
    if release is None:
        fail("Error: uninstall: Release not loaded: consul: release: not found")
    os.remove(os.path.join(STATE, "helm.json")); sys.exit(0)
fail(f"unknown helm command {argv}", 2)
"""
)

KUBECTL = (
    COMMON
    + r"""
argv = sys.argv[1:]
log("kubectl", argv)
if argv[:2] == ["version", "--client"]:
    print("Client Version: v1.21.1"); print("Kustomize Version: v4.0.5"); sys.exit(0)
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
