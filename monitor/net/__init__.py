"""What every outgoing connection shares: the egress gate (egress.py) and Retry-After (retry.py)."""
