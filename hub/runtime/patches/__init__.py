"""Every patch of Faust's and aiokafka's internals, in one place.

`hub/runtime/app.py` installs them when the app is built (commit_repair is a timer, loaded
with the agents); each can be left out with `HUB_DISABLED_PATCHES` to judge it on a broker
(`python -m benchmarks.patch_verdicts`). Raise the faust-streaming or aiokafka bound in
pyproject.toml only with these tests and tests/faults/test_crash_recovery.py passing.

commit_guard
    Fixes: Faust commits a partition past a message no agent acked (the one-offset
    allowance of `Consumer._new_offset`, and offsets its fetch loop jumped over counted as
    acked); one order was lost when a second worker joined the group and left.
    Broker: found on the embedded broker; verdict on Kafka: see docs/architecture.md.
    Proved by: tests/runtime/test_commit_guard.py, tests/faults/test_crash_recovery.py.

fetch_order
    Fixes: right after a rebalance Faust hands over a partition's records from past the
    offset it sought to (jumps of 1 to 72 offsets), so later records ran first and a
    ledger saw a drug's movements out of order; seeks now run in the consumer's thread.
    Broker: found on the embedded broker; verdict on Kafka: see docs/architecture.md.
    Proved by: tests/runtime/test_fetch_order.py, tests/faults/test_crash_recovery.py.

commit_repair
    Fixes: a partition whose commits stay held back for good: a stale committed-offset
    belief after a fast restart, a message never acked after a rebalance, messages
    deleted by retention before any worker took them, a partition not fetched at all.
    Broker: found on the embedded broker; verdict on Kafka: see docs/architecture.md.
    Proved by: tests/runtime/test_commit_repair.py, tests/faults/test_crash_recovery.py.

fetch_backoff
    Fixes: (1) the empty-fetch pause: the embedded broker answers an empty fetch at once,
    so an idle worker re-fetched ~2,500 times a second (89% of a core without the pause,
    28% with it). Kafka holds an empty fetch itself and does not need it (an idle worker:
    0.9% of a core without, 1.1% with), so only the embedded broker's launcher turns it on
    (`worker_env`: HUB_EMPTY_FETCH_BACKOFF_MS). (2) the prefetch backoff: aiokafka's fixed
    100 ms before re-fetching from a broker whose fetched records wait to be taken, most
    of the latency tail (p99 231 ms, 51 ms at 10 ms). (3) the fetch's maximum wait: Faust
    asks Kafka to hold a fetch up to 1,500 ms and aiokafka keeps one in flight per broker
    without the partitions whose records wait to be taken, so a message for one of those
    waited up to 1.5 s a hop (intake at 250/s on Kafka: p50 1,115 ms; 18.6 ms at 20 ms).
    Broker: (1) embedded broker only; (2) both; (3) Kafka.
    Proved by: tests/runtime/test_fetch_backoff.py; measured by `python -m benchmarks.idle_fetch`.

group_leave
    Fixes: a static member (KIP-345) sends no LeaveGroup when it stops, so its partitions
    stay with it until its session times out (on the embedded broker: never); a worker
    that stops on purpose now leaves the group and the others take over at once.
    Broker: found on the embedded broker; static members behave so on Kafka too.
    Proved by: tests/faults/test_crash_recovery.py (a second worker joining and leaving);
    measured by `python -m benchmarks.patch_verdicts handover`.

topic_create_retry
    Fixes: Faust's topic creation at start went to a broker just killed (still in the
    metadata): `NodeNotReadyError` escaped and the worker exited; a failed attempt is now
    retried with fresh metadata, once a second, for up to `RETRY_FOR_S`.
    Broker: found on a three-node Apache Kafka cluster (cannot happen on one node).
    Proved by: tests/runtime/test_topic_create_retry.py, tests/faults/test_cluster_faults.py.

store_rollback
    Fixes: a RocksDB store (`HUB_STORE=rocksdb://`) is written before its changelog record
    (held back until the outputs before it are acknowledged) and survives a SIGKILL, and
    Faust replays the changelog only past the offset the store recorded: a worker killed
    right after a local write restarted with state saying its input was done, and that
    input's outputs were lost. Each write now carries an undo record, deleted when its
    changelog record is acknowledged; opening a partition's database undoes a killed
    process's unacknowledged writes.
    Broker: any (the store, not the broker); a no-op with the memory store.
    Proved by: tests/runtime/test_store_rollback.py, tests/faults/test_crash_recovery.py (rocksdb://).

table_start
    Saves: Faust's table manager waits a fixed second at start for tables defined late;
    the hub defines all of them before the worker starts, so each start (and restart
    after a crash) was a second later than it had to be (~5 s -> ~4 s until ready).
    Broker: any.
    Proved by: tests/runtime/test_table_start.py; every test that starts a worker.
"""
