"""The configuration file: its models (settings.py) and value types (values.py), reading it with
every problem named by its key path (loading.py), editing it in place (editing.py), and the
formats around it (durations, OPML source lists, bounded YAML)."""
