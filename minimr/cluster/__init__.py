"""Who does the work where, and what happens when they fail: minimr's distributed runtime.

Modules, top to bottom:

- ``protocol``: every message on the wire, encoded and decoded in one place.
- ``transport``: the ZeroMQ seam (ROUTER/DEALER, CURVE and ZAP) and its in-memory fake.
- ``security``: the cluster's key files and which key may do what.
- ``tables``, ``events``, ``scheduler``: the coordinator's pure state machine.
- ``coordinator``: the I/O shell around the scheduler.
- ``worker``, ``executor``: a worker's protocol loop and its user-code processes.
- ``shuffle``: workers serve map outputs; reduces fetch them.
- ``shipping``: the job plan, serialized by value.
- ``client``: submitting a plan, and the embedded local cluster.
- ``commands``: ``minimr coordinator``, ``worker``, ``status`` and ``keygen``.
"""
