"""The daemon: APScheduler wiring and signal handling."""
