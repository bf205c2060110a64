"""The Kubernetes engines (`--engine kind` and `--engine cluster`): the real stack.

Owns: kind.py and cluster.py (the two engines; engine.py names them for lab.engines), steps.py
(the Kubernetes lab steps they share), install.py (CRDs, then Consul through helm with progress),
apply.py (a step's objects in phases, webhook retries, BindError retriggers), documents.py (apply
bodies and order), status.py (conditions, routes, why pods are not ready), waits.py (named waits
on lab.waiting), client.py (the official client: server-side apply, request timeouts), record.py,
helm.py, crds.py, kubeconfig.py, doctor.py, prefetch.py; for a shared cluster: tenancy.py (ownership
labels, an attendee's namespaces and own GatewayClass), detect.py (the CRDs and Consul a cluster
has), platform.py (what the host installs once), tunnel.py and portforward.py (the port-forward
helper process), access.py (`lab doctor --engine cluster`: the cluster and the user's RBAC).
May import: lab core (errors, timeouts, state, waiting, objects), lab.spec, lab.stats, lab.traffic,
lab.engines.base.
"""
