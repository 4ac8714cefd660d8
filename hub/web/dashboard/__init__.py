"""The dashboard: the page and its static files (`views.py`, `static/`), what it shows of each
flow (`flows.py`), the live feeds (`feeds.py`), and what a member may see (`scope.py`)."""
