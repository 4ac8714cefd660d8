"""Pages served by the worker's web server."""
