"""The Kubernetes engines (`--engine kind` and `--engine cluster`): the real stack.

Owns: kind and cluster engines, client (the official kubernetes client: server-side apply, named
waits), helm (Consul through pyhelm3), crds (the pinned Gateway API CRDs), kubeconfig, doctor
(what the host needs), prefetch (the offline cache).
May import: lab core (errors, timeouts, state, waiting), lab.spec, lab.stats, lab.traffic, lab.engines.base.
"""
