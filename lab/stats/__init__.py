"""Judging: the statistics of a split check (exact binomial, multinomial, power, sequential).

Owns: binomial (two-backend exact test), verdict (one pre-declared test per check), power
(sample sizes, detectable shifts), sequential (the early-stopping design).
May import: lab.errors only. Nothing here knows about manifests, engines or the terminal.
"""
