"""The lab definition: scenarios, manifests, validation, the Gateway API routing model, the plan.

Owns: scenario (the Scenario/Step/Traffic values), registry (the scenario catalogue on disk),
manifests (YAML with line numbers), topology and routing (Gateway API v1alpha2 semantics, shared
by validation and the embedded engine), validation, consul (what the Consul API Gateway does to
weights), pins (every pinned version), plan (the immutable Plan) and commands (the tutorial's
shell commands for a plan).
May import: lab.errors, lab.timeouts, lab.stats. Never an engine, traffic or the terminal.
"""
