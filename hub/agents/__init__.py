"""Faust agents; each module is listed in hub.runtime.app.AGENT_MODULES."""
