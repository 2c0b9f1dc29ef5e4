"""Fixtures of the integration tests (the crafted review tables are in tests/conftest.py:
``make_review_tables``)."""
