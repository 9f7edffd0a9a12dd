"""What crosses the network, and who may speak on it: the messages, their codec and
checks, the transport seam over ZeroMQ (and its in-memory fake), CURVE keys.
"""
