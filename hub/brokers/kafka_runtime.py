"""Apache Kafka's jars, resolved from Maven Central by the project's own Maven file
(deploy/kafka/runtime/pom.xml) into a cache, and the Java that runs them.

Nothing is downloaded by hand: the first start on a machine resolves the broker (about
90 jars, 10-60 s), later starts reuse the cache.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_DEPLOY = REPO_ROOT / "deploy" / "kafka"
RUNTIME_DIR = KAFKA_DEPLOY / "runtime"
MIN_JAVA = 17  # Kafka 4 brokers need Java 17


class KafkaUnavailable(RuntimeError):
    """Apache Kafka cannot run on this machine; the message says why."""


def java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not match:
        return 0
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def unavailable_reason() -> str | None:
    """Why Apache Kafka cannot be started here, or None when it can."""
    java, mvn = shutil.which("java"), shutil.which("mvn")
    if java is None:
        return "no `java` on PATH"
    if mvn is None:
        return "no `mvn` on PATH (Maven resolves the broker from Maven Central)"
    if not (RUNTIME_DIR / "pom.xml").exists():
        return f"no {RUNTIME_DIR / 'pom.xml'} (run from a checkout of the project)"
    major = java_major(java)
    if major < MIN_JAVA:
        return f"`java` is version {major}; Kafka 4 needs {MIN_JAVA} or newer"
    return None


@dataclass(frozen=True)
class KafkaRuntime:
    """The jars of one Kafka version and the JVM command lines that use them."""

    version: str
    libs: Path
    java: str = "java"

    def command(self, main_class: str, *args: str, heap_mb: int = 256,
                short_lived: bool = False) -> list[str]:
        """`short_lived`: a tool that runs for a second, or a test's broker that serves a few
        thousand messages, where the JIT's top tier only costs start-up time (the storage
        format: 1.6 -> 1.0 s; a broker: ready in 2.6 s instead of 3.5, 2.3 s of CPU
        instead of 4.6)."""
        tiers = ["-XX:TieredStopAtLevel=1"] if short_lived else []
        return [
            self.java, f"-Xms{heap_mb}m", f"-Xmx{heap_mb}m", *tiers, "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={RUNTIME_DIR / 'log4j2.properties'}",
            "-cp", f"{self.libs}/*", main_class, *args,
        ]


def resolve(version: str, cache_dir: Path, timeout: float = 600.0) -> KafkaRuntime:
    """The jars of Kafka `version`, resolved once into `cache_dir` (safe when several
    processes ask at once: the first resolves, the others wait for it)."""
    reason = unavailable_reason()
    if reason:
        raise KafkaUnavailable(reason)
    java = shutil.which("java") or "java"
    libs = cache_dir.expanduser() / f"kafka-{version}"
    done = libs / ".resolved"
    if done.exists():
        return KafkaRuntime(version, libs, java)
    libs.mkdir(parents=True, exist_ok=True)
    with (libs.parent / f".kafka-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            _maven_copy(version, libs, timeout)
            done.write_text(version)
    return KafkaRuntime(version, libs, java)


def _maven_copy(version: str, libs: Path, timeout: float) -> None:
    mvn = shutil.which("mvn") or "mvn"
    command = [mvn, "-q", "-B", "-f", str(RUNTIME_DIR / "pom.xml"),
               "dependency:copy-dependencies", "-DincludeScope=runtime",
               f"-Dkafka.version={version}", f"-DoutputDirectory={libs}"]
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise KafkaUnavailable(f"Maven did not resolve Kafka {version} in {timeout:.0f}s") from exc
    if out.returncode != 0 or not (libs / f"kafka_2.13-{version}.jar").exists():
        tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-8:])
        raise KafkaUnavailable(f"Maven could not resolve Kafka {version}:\n{tail}")
