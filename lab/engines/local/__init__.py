"""The embedded engine (`--engine local`): the lab as one background process, no Docker.

Owns: engine (the Engine implementation the CLI drives), server (the background process),
gateway (the HTTPS listeners and the routing table), apps (what each image answers), workloads
(pods from Deployments and Services), pki (the lab CA), config (the process's config and runtime
files), ports (free/busy ports and who holds them).
May import: lab core (errors, timeouts, state, waiting), lab.spec, lab.stats, lab.traffic, lab.engines.base.
"""
