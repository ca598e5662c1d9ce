"""`python -m monitor`: the command line (monitor/cli/main.py)."""

from monitor.cli import main

raise SystemExit(main())
