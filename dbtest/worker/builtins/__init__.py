"""What the built-in fixtures (`dbtest.worker.builtin_fixtures`) are made of.

Each module is imported by its fixture when a test first requests it, so a
worker pays only for the built-ins its tests use.
"""
