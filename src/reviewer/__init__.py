"""reviewer: find TV intros and song hooks, review them, collect labels."""

__version__ = "0.1.0"
