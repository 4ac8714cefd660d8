"""Kafka's command-line tools from the cached jars: the generated deploy/acls/acls.sh
runs against a local broker with its `kafka-configs.sh` and `kafka-acls.sh` calls
collected, then carried out by the real tools in one JVM (deploy/kafka/runtime/
ToolBatch.java): ninety JVM starts would take minutes on 2 cores."""

from __future__ import annotations

import os
import stat
import subprocess
import tempfile
from pathlib import Path

from hub.brokers.kafka_runtime import RUNTIME_DIR, KafkaRuntime

# What each script in deploy/ calls, and the class behind it in Kafka 4.
TOOL_CLASSES = {
    "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
    "kafka-configs.sh": "kafka.admin.ConfigCommand",
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
}
COLLECTOR = """#!/bin/sh
# collects one call of {tool} for ToolBatch: its class, then each argument, tab-separated
{{ printf '%s' '{main_class}'; for arg in "$@"; do printf '\\t%s' "$arg"; done; echo; }} \\
  >> "$HUB_TOOL_BATCH"
"""


def run_script(
    runtime: KafkaRuntime, script: Path, env: dict[str, str], timeout: float = 300.0,
) -> subprocess.CompletedProcess[str]:
    """Run a deploy/ shell script whose kafka-*.sh calls go to the real tools."""
    with tempfile.TemporaryDirectory(prefix="hub-tools-") as folder:
        bin_dir = Path(folder) / "bin"
        bin_dir.mkdir()
        batch = Path(folder) / "commands.tsv"
        batch.touch()
        for tool, main_class in TOOL_CLASSES.items():
            shim = bin_dir / tool
            shim.write_text(COLLECTOR.format(tool=tool, main_class=main_class))
            shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
        script_env = {**os.environ, **env, "HUB_TOOL_BATCH": str(batch),
                      "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}"}
        collected = subprocess.run(["sh", str(script)], env=script_env, capture_output=True,
                                   text=True, timeout=timeout)
        if collected.returncode != 0:
            return collected
        command = [runtime.java, "-XX:TieredStopAtLevel=1", "-cp", f"{runtime.libs}/*",
                   str(RUNTIME_DIR / "ToolBatch.java")]
        with batch.open() as commands:
            return subprocess.run(command, stdin=commands, capture_output=True, text=True,
                                  timeout=timeout)
