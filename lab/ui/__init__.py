"""What the user sees: the `lab` command (click), tables, reports, pictures, teaching mode, progress.

Owns: cli (parse options and delegate to the library), views (tables for status/scenarios/plan),
report (verdict and check reports, pictures), teaching (`--step`), progress (live lines).
May import anything in lab; nothing in lab imports it except the pytest plugin and lab.__main__.
"""
