"""Reliability: the promises kept through faults (Redis, the worker, the database) and duplicates."""
