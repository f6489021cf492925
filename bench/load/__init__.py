"""The load suite: the production-like stack under a mixed locust load (`python -m bench.load.run`)."""
