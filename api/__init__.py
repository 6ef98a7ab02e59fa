"""The HTTP API that shipping tools, stock systems and dashboards call."""
