"""The deployment files, checked by parsing them (no container engine runs here): every
topic they name is in the catalogue, every HUB_ variable is a setting, every metric exists,
the ports agree, each demo member has its connector, and the Kafka ACLs are exactly what
`hub acls` generates from the registry and the catalogue."""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from connectors import metrics as connector_metrics
from connectors.settings import ConnectorSettings
from hub import metrics as hub_metrics
from hub.ops.acls import (
    CDC_USER,
    HUB_USER,
    OPERATOR_USER,
    PHARMACY_USER,
    acls_command,
    consortium_acls,
    member_user,
    password_variable,
    render_script,
    scram_users,
)
from hub.rules.rejections import Reason
from hub.settings import HubSettings
from schemas.reference.registry import load_registry
from schemas.topics import (
    CDC_REPORTS,
    FIXED_TOPICS,
    PHARMACY_ORDERS,
    PHARMACY_SHORTAGES,
    PHARMACY_STOCK_LEVELS,
    REFERENCE,
    catalogue,
)

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
K8S = DEPLOY / "k8s"
MEMBERS = load_registry().ids
TOPICS = {spec.name for spec in catalogue(MEMBERS)}
SECURITY_VARS = {"HUB_KAFKA_SECURITY_PROTOCOL", "HUB_KAFKA_SASL_MECHANISM",
                 "HUB_KAFKA_SASL_USERNAME", "HUB_KAFKA_SASL_PASSWORD", "HUB_KAFKA_SSL_CAFILE"}
TOPIC_LIKE = re.compile(r"(?<![\w./-])(?:in|out|hub|cdc|pharmacy)\.[a-z0-9][a-z0-9-]*(?![\w.-])")
NOT_TOPICS = re.compile(r"\.(ya?ml|json|sh|py|md|pem|properties|toml|local)$")
METRIC = re.compile(r"\b(?:hub|connector)_[a-z0-9_]+\b")


def env_names(settings: type[Any]) -> set[str]:
    return {f"HUB_{name.upper()}" for name in settings.model_fields}


HUB_VARS, CONNECTOR_VARS = env_names(HubSettings), env_names(ConnectorSettings)


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text("utf-8"))
    return loaded


@cache
def k8s_docs() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        docs.extend(d for d in yaml.safe_load_all(path.read_text("utf-8")) if d)
    return docs


def k8s(kind: str, name: str) -> dict[str, Any]:
    (doc,) = [d for d in k8s_docs()
              if d["kind"] == kind and d.get("metadata", {}).get("name") == name]
    return doc


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = compose()["services"][name]
    return found


def compose_workers() -> dict[str, dict[str, Any]]:
    return {name: spec for name, spec in compose()["services"].items()
            if spec.get("command") == ["hub", "worker"]}


def is_connector(command: list[str]) -> bool:
    return bool(command) and command[0] == "hub-connector"


def pod_containers() -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(pod spec, container) of every workload in the manifests."""
    found = []
    for doc in k8s_docs():
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            spec = doc["spec"]["template"]["spec"]
            for container in spec.get("initContainers", []) + spec["containers"]:
                found.append((spec, container))
    return found


def container_env(container: dict[str, Any]) -> set[str]:
    names = {e["name"] for e in container.get("env", [])}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            names |= set(k8s("ConfigMap", source["configMapRef"]["name"])["data"])
        if "secretRef" in source:
            names |= set(k8s("Secret", source["secretRef"]["name"])["stringData"])
    return {n for n in names if n.startswith("HUB_")}


def test_the_files_parse_and_kubernetes_objects_are_complete() -> None:
    assert compose()["services"]
    for path in (DEPLOY / "prometheus").glob("*.yml"):
        assert yaml.safe_load(path.read_text("utf-8"))
    (kustomization,) = [d for d in k8s_docs() if d["kind"] == "Kustomization"]
    for doc in k8s_docs():
        if doc is not kustomization:
            assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"]
        if doc["kind"] not in {"Namespace", "Kustomization"}:
            assert doc["metadata"]["namespace"] == "consortium-hub"
    for resource in kustomization["resources"]:
        assert (K8S / resource).exists()
    assert "secrets.example.yaml" not in kustomization["resources"]


def test_every_hub_variable_is_a_setting_of_the_process_that_reads_it() -> None:
    for name, svc in compose()["services"].items():
        env = {k for k in svc.get("environment", {}) if k.startswith("HUB_")}
        known = CONNECTOR_VARS | SECURITY_VARS if is_connector(svc.get("command", [])) else HUB_VARS
        assert env <= known, f"{name}: {sorted(env - known)}"
    for _, container in pod_containers():
        known = CONNECTOR_VARS | SECURITY_VARS if is_connector(container["command"]) else HUB_VARS
        env = container_env(container)
        assert env <= known, f"{container['name']}: {sorted(env - known)}"
    docker_env = set(re.findall(r"\b(HUB_[A-Z_]+)=", (DEPLOY / "Dockerfile").read_text()))
    assert docker_env and docker_env <= HUB_VARS | CONNECTOR_VARS  # one image for both
    example = {line.split("=")[0] for line in (DEPLOY / ".env.example").read_text().splitlines()
               if line.startswith("HUB_")}
    assert example <= HUB_VARS
    assert SECURITY_VARS <= HUB_VARS


def test_connectors_read_the_kafka_security_settings_they_are_given() -> None:
    assert SECURITY_VARS <= CONNECTOR_VARS, sorted(SECURITY_VARS - CONNECTOR_VARS)
    guide = (DEPLOY.parent / "docs" / "deployment.md").read_text("utf-8")
    assert "do not yet" not in guide and "xfail" not in guide  # the guide says they can


def test_every_topic_named_is_in_the_catalogue() -> None:
    named: dict[str, set[str]] = {}
    for path in DEPLOY.rglob("*"):
        if path.is_file() and path.suffix in {".yml", ".yaml", ".json", ".sh", ".properties"}:
            for token in TOPIC_LIKE.findall(path.read_text("utf-8")):
                if not NOT_TOPICS.search(token):
                    named.setdefault(token, set()).add(path.name)
    assert {"hub.dead-letter", "cdc.disease-reports", "in.lead", "out.lead"} <= set(named)
    unknown = {t: files for t, files in named.items() if t not in TOPICS}
    assert not unknown


def registry_metric_names() -> set[str]:
    names: set[str] = set()
    for registry in (hub_metrics.REGISTRY, connector_metrics.REGISTRY):
        for family in registry.collect():
            suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"),
                        "gauge": ("",), "summary": ("_sum", "_count", "")}[family.type]
            names |= {family.name + suffix for suffix in suffixes}
    return names


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text("utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (DEPLOY / "grafana" / "dashboards" / "consortium-hub.json").read_text("utf-8"))
    return loaded


def test_every_metric_in_alerts_and_dashboard_exists() -> None:
    exprs = [rule["expr"] for rule in alert_rules()]
    exprs += [t["expr"] for p in dashboard()["panels"] for t in p.get("targets", [])]
    used = {name for expr in exprs for name in METRIC.findall(expr)}
    assert used and not used - registry_metric_names(), sorted(used - registry_metric_names())
    for reason in re.findall(r'reason="([A-Z_]+)"', " ".join(exprs)):
        assert reason in Reason.__members__
    states = set(re.findall(r'hub_open_cases\{state="([a-z_]+)"\}', " ".join(exprs)))
    assert states and states <= deadline_states(), "alerts name unknown hub_open_cases states"


def deadline_states() -> set[str]:
    """The `state` label values of hub_open_cases: the reporting rules' DeadlineState."""
    import hub.rules.reporting as reporting

    for module in pkgutil.iter_modules(reporting.__path__):
        found = getattr(importlib.import_module(f"{reporting.__name__}.{module.name}"),
                        "DeadlineState", None)
        if found is not None:
            return {state.value for state in found}
    raise AssertionError("no DeadlineState in hub.rules.reporting")


def test_the_alerts_operators_asked_for_are_there() -> None:
    by_metric = {m: r["alert"] for r in alert_rules() for m in METRIC.findall(r["expr"])}
    for metric in ("hub_consumer_lag", "hub_rejections_total", "hub_open_cases",
                   "hub_member_last_event_timestamp_seconds", "hub_broker_unreachable",
                   "hub_referral_escalations_total", "hub_critical_value_steps_total",
                   "hub_remote_read_steps_total"):
        assert metric in by_metric
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"warning", "critical"}
        assert rule["annotations"]["summary"]


def test_grafana_is_provisioned_with_the_dashboard() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    (source,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())[
        "datasources"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "hub.yml").read_text())[
        "providers"]
    mounts = service("grafana")["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
    assert source["url"] == "http://prometheus:9090" and "prometheus" in compose()["services"]
    board = dashboard()
    assert board["uid"] and board["panels"]
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] == source["uid"] and panel["targets"]


def scrape_jobs() -> dict[str, dict[str, Any]]:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text("utf-8"))
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    return {job["job_name"]: job for job in config["scrape_configs"]}


def test_prometheus_scrapes_the_ports_the_processes_serve() -> None:
    jobs = scrape_jobs()
    (sd,) = jobs["hub-worker"]["dns_sd_configs"]
    assert sd["names"] == ["hub-worker"]
    assert len(compose_workers()) == 2
    for worker in compose_workers().values():
        assert sd["port"] == int(worker["environment"]["HUB_WEB_PORT"])
        assert worker["command"] == ["hub", "worker"]
        assert worker["networks"]["default"]["aliases"] == ["hub-worker"]
    dockerfile_port = re.search(r"HUB_WEB_PORT=(\d+)", (DEPLOY / "Dockerfile").read_text())
    assert dockerfile_port and int(dockerfile_port[1]) == sd["port"]
    port_var = {"connector-mllp": "HUB_METRICS_PORT", "connector-fhir": "HUB_FHIR_PORT"}
    scraped: set[str] = set()
    for job, variable in port_var.items():
        for target in jobs[job]["static_configs"][0]["targets"]:
            host, port = target.rsplit(":", 1)
            assert int(service(host)["environment"][variable]) == int(port), target
            scraped.add(host)
    assert scraped == {f"connector-{m}" for m in MEMBERS}


def test_kubernetes_pods_are_scraped_where_they_serve() -> None:
    hub_port = int(k8s("ConfigMap", "hub-config")["data"]["HUB_WEB_PORT"])
    worker = k8s("StatefulSet", "hub-worker")
    assert worker["spec"]["replicas"] == 2
    for doc in k8s_docs():
        annotations = doc.get("spec", {}).get("template", {}).get("metadata", {}).get(
            "annotations", {})
        if annotations.get("prometheus.io/scrape") != "true":
            continue
        (container,) = doc["spec"]["template"]["spec"]["containers"]
        port = int(annotations["prometheus.io/port"])
        assert port in {p["containerPort"] for p in container["ports"]}, doc["metadata"]["name"]
        env = {e["name"]: e.get("value") for e in container.get("env", [])}
        if container["command"] == ["hub", "worker"]:
            assert port == hub_port
        else:
            assert port == int(env.get("HUB_METRICS_PORT") or env["HUB_FHIR_PORT"])


def test_each_demo_member_has_its_connector_with_its_own_user() -> None:
    secrets = k8s("Secret", "kafka-users")["stringData"]
    for member in MEMBERS:
        svc = service(f"connector-{member}")
        assert svc["command"][1] in {"mllp", "fhir"} and svc["command"][0] == "hub-connector"
        env = svc["environment"]
        user = member_user(member)
        assert env["HUB_MEMBER_ID"] == member and env["HUB_KAFKA_SASL_USERNAME"] == user
        assert env["HUB_KAFKA_SASL_PASSWORD"] == f"${{{password_variable(user)}:?}}"
        (container,) = k8s("Deployment", f"connector-{member}")["spec"]["template"]["spec"][
            "containers"]
        k8s_env = {e["name"]: e for e in container["env"]}
        assert k8s_env["HUB_MEMBER_ID"]["value"] == member
        password = k8s_env["HUB_KAFKA_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert password["key"] == password_variable(user) and password["key"] in secrets


def test_each_member_has_its_feedback_delivery_beside_its_connector() -> None:
    """Advice reaches the HIS only if `deliver-feedback` runs: one per member, as the
    member's own user, sending the way its connector receives (HL7 or FHIR), scraped."""
    feedback_targets = {t.split(":")[0] for t in
                        scrape_jobs()["connector-feedback"]["static_configs"][0]["targets"]}
    assert feedback_targets == {f"feedback-{m}" for m in MEMBERS}
    for member in MEMBERS:
        connector = service(f"connector-{member}")
        svc = service(f"feedback-{member}")
        assert svc["command"] == ["hub-connector", "deliver-feedback"]
        env = svc["environment"]
        for name in ("HUB_MEMBER_ID", "HUB_KAFKA_SASL_USERNAME", "HUB_KAFKA_SASL_PASSWORD",
                     "HUB_BROKER", "HUB_KAFKA_SSL_CAFILE"):
            assert env[name] == connector["environment"][name], (member, name)
        kind = connector["command"][1]
        assert env["HUB_FEEDBACK_TARGET"] == kind
        needed = "HUB_FEEDBACK_FHIR_URL" if kind == "fhir" else "HUB_FEEDBACK_MLLP_HOST"
        assert env[needed].startswith("${") and ":?}" in env[needed]  # must be set
        (container,) = k8s("Deployment", f"feedback-{member}")["spec"]["template"]["spec"][
            "containers"]
        assert container["command"] == ["hub-connector", "deliver-feedback"]
        k8s_env = {e["name"]: e for e in container["env"]}
        assert k8s_env["HUB_MEMBER_ID"]["value"] == member
        assert k8s_env["HUB_FEEDBACK_TARGET"]["value"] == kind and needed in k8s_env
        assert k8s_env["HUB_KAFKA_SASL_USERNAME"]["value"] == member_user(member)
    example = (DEPLOY / ".env.example").read_text()
    for variable in re.findall(r"\$\{(FEEDBACK_HIS_[A-Z_]+)", yaml.safe_dump(compose())):
        assert f"\n{variable}=" in example, variable


def test_kafka_is_three_kraft_nodes_with_scram_over_tls_and_two_in_sync_replicas() -> None:
    properties = (DEPLOY / "kafka" / "server.properties").read_text()
    settings = dict(line.split("=", 1) for line in properties.splitlines()
                    if line and not line.startswith("#"))
    assert settings["process.roles"] == "broker,controller"
    assert "CLIENT:SASL_SSL" in settings["listener.security.protocol.map"]
    assert settings["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert settings["allow.everyone.if.no.acl.found"] == "false"
    assert settings["default.replication.factor"] == "3"
    assert settings["min.insync.replicas"] == "2"
    brokers = [s for s in compose()["services"].values()
               if str(s.get("image", "")).startswith("apache/kafka") and "hostname" in s]
    assert len(brokers) == 3
    assert k8s("StatefulSet", "kafka")["spec"]["replicas"] == 3
    init = service("topic-init")
    assert init["command"] == ["hub", "topics", "create"]
    assert init["environment"]["HUB_REPLICATION_FACTOR"] == "3"
    assert k8s("ConfigMap", "hub-config")["data"]["HUB_REPLICATION_FACTOR"] == "3"
    for name, text in k8s("ConfigMap", "kafka-config")["data"].items():
        assert text == (DEPLOY / "kafka" / name).read_text(), f"{name} drifted from deploy/kafka"


def test_the_acl_script_is_what_hub_acls_generates() -> None:
    app_id = service("hub-worker-1")["environment"]["HUB_APP_ID"]
    assert k8s("ConfigMap", "hub-config")["data"]["HUB_APP_ID"] == app_id
    script = (DEPLOY / "acls" / "acls.sh").read_text()
    assert script == render_script(MEMBERS, app_id), "run: hub acls --output deploy/acls/acls.sh"
    literal_topics = set(re.findall(r"--topic (\S+)$", script, re.MULTILINE))
    assert literal_topics == TOPICS
    result = CliRunner().invoke(acls_command, [], env={"HUB_APP_ID": app_id})
    assert result.exit_code == 0 and result.output == script


def test_every_scram_user_gets_a_password_and_every_client_is_a_user() -> None:
    users = scram_users(MEMBERS)
    setup_env = service("kafka-setup")["environment"]
    secrets = k8s("Secret", "kafka-users")["stringData"]
    example = (DEPLOY / ".env.example").read_text()
    for user in users:
        variable = password_variable(user)
        assert setup_env[variable] == f"${{{variable}:?}}" and variable in secrets
        assert f"\n{variable}=" in example
    for name, svc in compose()["services"].items():
        env = svc.get("environment", {})
        if "HUB_KAFKA_SASL_USERNAME" in env:
            user = env["HUB_KAFKA_SASL_USERNAME"]
            assert user in users, name
            assert env["HUB_KAFKA_SASL_PASSWORD"] == f"${{{password_variable(user)}:?}}", name


def grants(user: str) -> dict[str, set[str]]:
    """Topic -> operations granted to a user (literal topic ACLs)."""
    out: dict[str, set[str]] = {}
    for acl in consortium_acls(["x", "y"], "consortium-hub"):
        if acl.user == user and acl.resource == "topic" and not acl.prefixed:
            out.setdefault(acl.name, set()).update(acl.operations)
    return out


def test_a_member_writes_only_its_ingress_and_reads_its_feedback_and_the_reference() -> None:
    assert grants(member_user("x")) == {"in.x": {"Write", "Describe"},
                                        "out.x": {"Read", "Describe"},
                                        REFERENCE.name: {"Read", "Describe"}}
    groups = [a for a in consortium_acls(["x", "y"], "consortium-hub")
              if a.user == member_user("x") and a.resource == "group"]
    assert [(g.name, g.prefixed, g.operations) for g in groups] == [
        ("member-x-", True, ("Read", "Describe"))]


def test_the_cdc_pharmacy_and_operators_read_only_their_topics() -> None:
    assert grants(CDC_USER) == {CDC_REPORTS.name: {"Read", "Describe"}}
    assert grants(PHARMACY_USER) == {PHARMACY_SHORTAGES.name: {"Read", "Describe"},
                                     PHARMACY_ORDERS.name: {"Read", "Describe"},
                                     PHARMACY_STOCK_LEVELS.name: {"Read", "Describe"}}
    assert grants(OPERATOR_USER) == {"hub.dead-letter": {"Read", "Describe"},
                                     "hub.alerts": {"Read", "Describe"}}


def test_the_hub_may_do_what_it_needs_on_every_topic_and_its_own() -> None:
    hub = grants(HUB_USER)
    assert set(hub) == {s.name for s in catalogue(["x", "y"])}
    assert all(ops == {"Read", "Write", "Describe", "Create"} for ops in hub.values())
    own = [a for a in consortium_acls(["x"], "app") if a.user == HUB_USER
           and (a.prefixed or a.resource == "group")]
    assert {(a.resource, a.name, a.prefixed) for a in own} == {("topic", "app-", True),
                                                              ("group", "app", False)}


def test_the_deployment_guide_lists_the_catalogue_partitions() -> None:
    guide = (DEPLOY.parent / "docs" / "deployment.md").read_text("utf-8")
    for spec in FIXED_TOPICS:
        assert f"| `{spec.name}` | {spec.partitions} |" in guide, spec.name
    member_partitions = HubSettings.model_fields["member_partitions"].default
    for pattern in ("in.<member>", "out.<member>"):
        assert f"| `{pattern}` | {member_partitions} (`HUB_MEMBER_PARTITIONS`) |" in guide


def test_prometheus_sends_the_operator_token_the_workers_metrics_want() -> None:
    auth = scrape_jobs()["hub-worker"]["authorization"]
    assert auth["type"] == "Bearer"
    secret = Path(auth["credentials_file"]).name
    assert compose()["secrets"][secret] == {"environment": "HUB_OPERATOR_TOKEN"}
    assert secret in service("prometheus")["secrets"]
    for worker in compose_workers().values():
        assert worker["environment"]["HUB_OPERATOR_TOKEN"] == "${HUB_OPERATOR_TOKEN:?}"
    assert "HUB_OPERATOR_TOKEN" in k8s("Secret", "hub-secrets")["stringData"]


def broker_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in compose()["services"].items()
            if str(s.get("image", "")).startswith("apache/kafka") and "hostname" in s}


def listener_ports(listeners: str) -> dict[str, int]:
    return {name: int(port) for name, port in re.findall(r"(\w+)://[^,:]*:(\d+)", listeners)}


def render_start_script(tmp_path: Path, env: dict[str, str]) -> dict[str, str]:
    """server.properties as deploy/kafka/start-kafka.sh writes it for `env`, the Kafka tools
    it then runs replaced by stubs."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kafka-storage.sh", "kafka-server-start.sh"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    script = (DEPLOY / "kafka" / "start-kafka.sh").read_text().replace(
        "/opt/kafka/bin/", f"{bin_dir}/")
    (tmp_path / "start-kafka.sh").write_text(script)
    (tmp_path / "server.properties").write_text(
        (DEPLOY / "kafka" / "server.properties").read_text())
    rendered = tmp_path / "rendered.properties"
    done = subprocess.run(
        ["bash", str(tmp_path / "start-kafka.sh")], capture_output=True, text=True, timeout=30,
        env={"PATH": "/usr/bin:/bin", "KAFKA_RENDERED_CONFIG": str(rendered),
             "CLUSTER_ID": "x", "KAFKA_QUORUM_VOTERS": "1@kafka-1:9093", **env})
    assert done.returncode == 0, done.stderr
    return dict(line.split("=", 1) for line in rendered.read_text().splitlines()
                if line and not line.startswith("#"))


def test_every_broker_has_an_internal_and_an_external_listener(tmp_path: Path) -> None:
    """Member sites reach the cluster from outside its network: each broker advertises an
    EXTERNAL listener (SCRAM over TLS) by its own name and port, beside the CLIENT one the
    hub's workers use inside."""
    props = dict(line.split("=", 1) for line in
                 (DEPLOY / "kafka" / "server.properties").read_text().splitlines()
                 if line and not line.startswith("#"))
    protocols = dict(p.split(":") for p in props["listener.security.protocol.map"].split(","))
    assert protocols["EXTERNAL"] == protocols["CLIENT"] == "SASL_SSL"
    assert props["listener.name.external.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    bound = listener_ports(props["listeners"])
    assert {"INTERNAL", "CLIENT", "EXTERNAL"} <= set(bound)
    rendered = render_start_script(tmp_path, {
        "KAFKA_NODE_ID": "2", "KAFKA_ADVERTISED_HOST": "kafka-2",
        "KAFKA_EXTERNAL_HOST": "kafka-{id}.hub.example.cn", "KAFKA_EXTERNAL_PORT": "3109{id}"})
    assert rendered["advertised.listeners"] == (
        f"INTERNAL://kafka-2:{bound['INTERNAL']},CLIENT://kafka-2:{bound['CLIENT']},"
        "EXTERNAL://kafka-2.hub.example.cn:31092")
    assert rendered["node.id"] == "2"


def test_compose_publishes_each_brokers_external_listener_on_its_own_port() -> None:
    container_port = listener_ports(
        (DEPLOY / "kafka" / "server.properties").read_text().split("\nlisteners=")[1]
        .splitlines()[0])["EXTERNAL"]
    names, ports = set(), set()
    for name, svc in broker_services().items():
        env = svc["environment"]
        host, port = env["KAFKA_EXTERNAL_HOST"], int(env["KAFKA_EXTERNAL_PORT"])
        assert host.startswith(f"{name}.${{KAFKA_EXTERNAL_DOMAIN:-"), host
        published = {tuple(p.rsplit(":", 2)[-2:]) for p in svc["ports"]}
        assert (str(port), str(container_port)) in published, (name, svc["ports"])
        assert not any(p.startswith("127.0.0.1:") for p in svc["ports"])  # reachable outside
        names.add(host)
        ports.add(port)
    assert len(names) == len(ports) == len(broker_services()) == 3
    domain = re.search(r"KAFKA_EXTERNAL_DOMAIN:-([\w.-]+)\}", next(iter(names)))
    certs = (DEPLOY / "tls" / "make-certs.sh").read_text()
    assert domain and f"DNS:*.${{KAFKA_EXTERNAL_DOMAIN:-{domain[1]}}}" in certs
    assert f"\nKAFKA_EXTERNAL_DOMAIN={domain[1]}\n" in (DEPLOY / ".env.example").read_text()
    for guide in ("deployment.md", "member-integration.md"):  # what members' networks open
        text = (DEPLOY.parent / "docs" / guide).read_text("utf-8")
        assert all(str(port) in text for port in ports) and domain[1] in text, guide


def test_kubernetes_gives_each_broker_pod_an_external_service_and_name() -> None:
    kafka = k8s("StatefulSet", "kafka")
    (container,) = kafka["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KAFKA_EXTERNAL_HOST"] == "$(POD_NAME).$(KAFKA_EXTERNAL_DOMAIN)"  # one a pod
    certs = (DEPLOY / "tls" / "make-certs.sh").read_text()
    assert f"DNS:*.${{KAFKA_EXTERNAL_DOMAIN:-{env['KAFKA_EXTERNAL_DOMAIN']}}}" in certs
    external = {p["name"]: p["containerPort"] for p in container["ports"]}["external"]
    for ordinal in range(kafka["spec"]["replicas"]):
        svc = k8s("Service", f"kafka-{ordinal}-external")["spec"]
        assert svc["type"] in {"LoadBalancer", "NodePort"}
        assert svc["selector"] == {"statefulset.kubernetes.io/pod-name": f"kafka-{ordinal}"}
        (port,) = svc["ports"]
        assert port["targetPort"] in {"external", external}
        assert port["port"] == int(env["KAFKA_EXTERNAL_PORT"])
