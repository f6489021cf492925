"""The integration API (Django REST framework), version 1. See docs/api.md and /api/schema/."""
