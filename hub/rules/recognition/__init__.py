"""Mutual recognition of results: which earlier result a new order may recognise, the
index of results it is looked up in, the advice and the decision support built on it, and
the recognition figures."""
