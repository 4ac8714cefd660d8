"""Faust agents; each module is listed in hub.app.AGENT_MODULES."""
