"""Judging: the statistics of a split check (exact binomial, multinomial, power, sequential).

Owns: binomial (two-backend exact test, bounded memory), acceptance (its acceptance region),
multinomial (three or more backends),
power (sample sizes, detectable shifts), verdict (one pre-declared test per check, in four
steps) and results (its value types), sequential (the early-stopping design, exact on the
binomial lattice) and sequential_check (running it one answer at a time), formats (how shares
are written).
May import: lab.errors only. Nothing here knows about manifests, engines or the terminal.
"""
