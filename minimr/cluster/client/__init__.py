"""Submitting and asking: a client of a running cluster, the embedded local cluster
and the worker processes it starts, and the one-request exchange commands use.
"""
