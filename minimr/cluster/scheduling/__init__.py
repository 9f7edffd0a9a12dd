"""The coordinator's brain, with no I/O: jobs, tasks, attempts and workers as a
state machine, its tables, failure policy, placement and read-only views.
"""
