"""Traffic through the gateway: drive requests, attribute answers to backends, converge, check.

Owns: driver (the load generator), http1 (its HTTP/1.1 client: h11 over asyncio streams),
attribution (which backend/pod answered), converge (wait until the step's routes serve), check
(drive + judge for one step).
May import: lab.errors, lab.timeouts, lab.state, lab.spec, lab.stats. Never an engine or the terminal.
"""
