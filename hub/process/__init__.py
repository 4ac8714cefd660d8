"""The worker process and its care: supervising a worker subprocess, handing freed heap back
to the system, timing garbage collection pauses, and structured logs that mask personal data."""
