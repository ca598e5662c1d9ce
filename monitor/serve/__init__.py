"""The read side over HTTP (`monitor serve`, or inside `monitor run` with `serve.listen`): the
JSON API under /api/v1 with its OpenAPI document, and /healthz. Every answer comes from the
query layer (monitor/queries.py) the command line uses."""
