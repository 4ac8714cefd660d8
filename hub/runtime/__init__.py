"""The Faust runtime and its wiring: the app (the composition root), the topic objects,
sending, table writes, the codec, the process-wide services, and in `patches/` every patch
of Faust's and aiokafka's internals. Only this package touches library internals."""
