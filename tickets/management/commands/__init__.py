"""`manage.py` commands: `seed_demo` loads the demo data."""
