"""Command-line entry points of lowcarbon-aiot (``python -m lowcarbon.scripts.<name>``)."""
