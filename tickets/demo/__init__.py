"""Demo data for the helpdesk: the people, the hand-written ticket scenarios and the benchmark generator.

`python manage.py seed_demo` is the entry point; `data` holds the texts, `seed` builds the demo
organizations, people and ticket histories through the services, `bulk` writes benchmark volumes.
"""
