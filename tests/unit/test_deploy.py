"""deploy/: Kubernetes manifests, KEDA, Compose, Prometheus rules, Grafana, runbook.

`make validate` runs the tools (promtool check/test rules, kubernetes-validate, hadolint,
the AsyncAPI parser); these tests check what ties the files to each other and to the code.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from schemas.common import Priority
from service.config import Settings
from service.observability.metrics import Metrics
from service.rules.model import parse_rules
from service.sla.engine import SlaRisk
from service.sla.policy import parse_policy

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
K8S_VERSION = "1.30.0"
RUNBOOK = DEPLOY / "RUNBOOK.md"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "triage.json"
COMPOSE = DEPLOY / "compose" / "docker-compose.yml"


def load_all(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def k8s_docs() -> dict[tuple[str, str], dict[str, Any]]:
    docs = {}
    for path in sorted(K8S.glob("*.yaml")):
        for doc in load_all(path):
            docs[(doc["kind"], doc["metadata"]["name"] if "metadata" in doc else path.name)] = doc
    return docs


# --- Kubernetes ------------------------------------------------------------------------------


def test_manifests_validate_against_the_kubernetes_schemas() -> None:
    checked = 0
    for (kind, _), doc in k8s_docs().items():
        if kind in ("ScaledObject", "Kustomization"):
            continue  # not Kubernetes API kinds: checked below
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 6


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


def container() -> dict[str, Any]:
    deployment = k8s_docs()[("Deployment", "triage")]
    [c] = deployment["spec"]["template"]["spec"]["containers"]
    assert isinstance(c, dict)
    return c


def test_deployment_probes_resources_and_security() -> None:
    docs = k8s_docs()
    pod = docs[("Deployment", "triage")]["spec"]["template"]["spec"]
    c = container()
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= c["resources"]["requests"].keys()
    assert "memory" in c["resources"]["limits"]
    sc = c["securityContext"]
    assert sc["runAsNonRoot"] is True
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001  # the Dockerfile's user
    assert "USER 10001:10001" in (ROOT / "Dockerfile").read_text()


def test_termination_grace_period_exceeds_the_shutdown_bound() -> None:
    docs = k8s_docs()
    config = docs[("ConfigMap", "triage-config")]["data"]
    bound = float(
        config.get("TRIAGE_SHUTDOWN_TIMEOUT_SECONDS", Settings().shutdown_timeout_seconds)
    )
    grace = docs[("Deployment", "triage")]["spec"]["template"]["spec"][
        "terminationGracePeriodSeconds"
    ]
    assert grace > bound + 5, "SIGKILL must not cut the graceful shutdown short"


def test_the_rules_config_map_carries_the_shipped_rules_and_policy() -> None:
    """The repository's ConfigMap is the shipped defaults (a site edits its own copy):
    a rule change that forgets ``make k8s-config`` would deploy yesterday's rules."""
    files = k8s_docs()[("ConfigMap", "triage-rules")]["data"]
    shipped = {
        "rules.yaml": ROOT / "service" / "rules" / "default_rules.yaml",
        "sla-policy.yaml": ROOT / "service" / "sla" / "default_policy.yaml",
    }
    for key, path in shipped.items():
        assert files[key].strip() == path.read_text(encoding="utf-8").strip(), (
            f"{key} differs from {path.name}: run make k8s-config"
        )


def test_config_map_keys_are_settings_and_the_rules_and_policy_load() -> None:
    docs = k8s_docs()
    fields = {f"TRIAGE_{name.upper()}" for name in Settings.model_fields}
    for key in docs[("ConfigMap", "triage-config")]["data"]:
        assert key in fields or key == "KAFKA_BOOTSTRAP_SERVERS", key
    files = docs[("ConfigMap", "triage-rules")]["data"]
    parse_rules(files["rules.yaml"], "configmap-rules.yaml:rules.yaml")  # else: make k8s-config
    parse_policy(files["sla-policy.yaml"], "configmap-rules.yaml:sla-policy.yaml")
    env = {e["name"]: e.get("value") for e in container()["env"]}
    [mount] = [m for m in container()["volumeMounts"] if m["name"] == "config"]
    assert env["TRIAGE_RULES_PATH"] == f"{mount['mountPath']}/rules.yaml"
    assert env["TRIAGE_SLA_POLICY_PATH"] == f"{mount['mountPath']}/sla-policy.yaml"


def test_service_and_pdb_select_the_deployment_pods() -> None:
    docs = k8s_docs()
    labels = docs[("Deployment", "triage")]["spec"]["template"]["metadata"]["labels"]
    for selector in (
        docs[("Service", "triage")]["spec"]["selector"],
        docs[("PodDisruptionBudget", "triage")]["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
    assert docs[("Service", "triage")]["spec"]["ports"][0]["targetPort"] == "http"


# A minimal schema of KEDA's ScaledObject (keda.sh/v1alpha1), from its CRD's documented
# fields: the parts this repository uses, with unknown fields rejected.
SCALED_OBJECT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "kind": {"const": "ScaledObject"},
        "metadata": {"type": "object", "required": ["name"]},
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "name": {"type": "string"},
                        "envSourceContainerName": {"type": "string"},
                    },
                },
                "pollingInterval": {"type": "integer", "minimum": 1},
                "cooldownPeriod": {"type": "integer", "minimum": 0},
                "initialCooldownPeriod": {"type": "integer", "minimum": 0},
                "idleReplicaCount": {"type": "integer", "minimum": 0},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "fallback": {"type": "object"},
                "advanced": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "restoreToOriginalReplicaCount": {"type": "boolean"},
                        "horizontalPodAutoscalerConfig": {
                            "type": "object",
                            "additionalProperties": False,
                            "properties": {
                                "name": {"type": "string"},
                                "behavior": {"type": "object"},
                            },
                        },
                        "scalingModifiers": {"type": "object"},
                    },
                },
                "triggers": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["type", "metadata"],
                        "properties": {
                            "type": {"type": "string"},
                            "name": {"type": "string"},
                            "useCachedMetrics": {"type": "boolean"},
                            "metricType": {"enum": ["AverageValue", "Value", "Utilization"]},
                            "authenticationRef": {"type": "object"},
                            "metadata": {
                                "type": "object",
                                "additionalProperties": {"type": "string"},
                            },
                        },
                    },
                },
            },
        },
    },
}
KAFKA_SCALER_KEYS = {
    "bootstrapServers",
    "consumerGroup",
    "topic",
    "lagThreshold",
    "activationLagThreshold",
    "offsetResetPolicy",
    "allowIdleConsumers",
    "excludePersistentLag",
    "scaleToZeroOnInvalidOffset",
    "limitToPartitionsWithLag",
    "partitionLimitation",
    "version",
    "sasl",
    "tls",
}


def test_keda_scaled_object_scales_the_deployment_on_both_groups_lag() -> None:
    docs = k8s_docs()
    scaled = docs[("ScaledObject", "triage")]
    jsonschema.validate(scaled, SCALED_OBJECT_SCHEMA)
    spec = scaled["spec"]
    assert spec["scaleTargetRef"]["name"] == docs[("Deployment", "triage")]["metadata"]["name"]
    config = docs[("ConfigMap", "triage-config")]["data"]
    partitions = int(config["TRIAGE_TOPIC_PARTITIONS"])
    assert 2 <= spec["minReplicaCount"] <= spec["maxReplicaCount"] <= partitions
    groups = {}
    for trigger in spec["triggers"]:
        assert trigger["type"] == "kafka"
        meta = trigger["metadata"]
        assert set(meta) <= KAFKA_SCALER_KEYS, set(meta) - KAFKA_SCALER_KEYS
        assert meta["bootstrapServers"] == config["KAFKA_BOOTSTRAP_SERVERS"]
        assert int(meta["lagThreshold"]) > 0
        groups[meta["consumerGroup"]] = meta["topic"]
    assert groups == {
        config["TRIAGE_GROUP_ID"]: config["TRIAGE_TOPIC_FEEDBACK"],
        config["TRIAGE_SLA_GROUP_ID"]: config["TRIAGE_TOPIC_TICKETS"],
    }


# --- Compose ------------------------------------------------------------------------------------


def test_compose_stack_is_complete_pinned_and_health_checked() -> None:
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    services = compose["services"]
    triage = [name for name, s in services.items() if s.get("image", "").startswith("triage")]
    assert len(triage) >= 2
    images = {name: s["image"] for name, s in services.items()}
    assert images["kafka"].startswith("apache/kafka:")
    for prefix in ("prom/prometheus:", "prom/alertmanager:", "grafana/grafana:"):
        assert any(i.startswith(prefix) for i in images.values()), prefix
    for name, image in images.items():
        tag = image.rsplit(":", 1)[-1] if ":" in image else ""
        assert tag not in ("", "latest"), f"{name}: pin the image tag"
        assert "healthcheck" in services[name], f"{name}: no healthcheck"
    kafka_env = services["kafka"]["environment"]
    assert "controller" in kafka_env["KAFKA_PROCESS_ROLES"]  # KRaft, no ZooKeeper
    for name in triage:
        s = services[name]
        assert s["command"][:1] == ["run"]
        grace = int(str(s["stop_grace_period"]).removesuffix("s"))
        assert grace > float(s["environment"]["TRIAGE_SHUTDOWN_TIMEOUT_SECONDS"])
    for s in services.values():
        for volume in s.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (COMPOSE.parent / source).exists(), source
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    [job] = [j for j in prometheus["scrape_configs"] if j["job_name"] == "triage"]
    targets = {t for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{name}:8000" for name in triage}


def test_alertmanager_routes_every_severity_to_a_defined_receiver() -> None:
    config = yaml.safe_load((DEPLOY / "alertmanager" / "alertmanager.yml").read_text())
    receivers = {r["name"] for r in config["receivers"]}
    route = config["route"]
    assert route["receiver"] in receivers
    for sub in route["routes"]:
        assert sub["receiver"] in receivers
    severities = {r["labels"]["severity"] for r in alert_rules()}
    routed = {m.split('"')[1] for sub in route["routes"] for m in sub["matchers"]}
    assert severities - routed <= {"warning"}  # warning: the default route


# --- Prometheus rules and the runbook ----------------------------------------------------------


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return [r for g in groups for r in g["rules"] if "alert" in r]


def recording_rules() -> set[str]:
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    return {r["record"] for g in groups for r in g["rules"] if "record" in r}


def exported_metric_names() -> set[str]:
    """Every series name a triage instance exports (SLA risk gauges included)."""
    metrics = Metrics()
    now = datetime(2026, 1, 1, tzinfo=UTC)
    zero = dict.fromkeys(Priority, 0)
    metrics.watch_sla_risk(lambda: SlaRisk(zero, zero, now + timedelta(seconds=1), now))
    names = set()
    for family in metrics.registry.collect():
        names.add(family.name)
        names.update({f"{family.name}_{s}" for s in ("total", "bucket", "sum", "count", "info")})
    return names


def metric_names_in(expr: str) -> set[str]:
    return set(re.findall(r"\btriage(?:_[a-z0-9]+)+\b", expr)) | set(
        re.findall(r"\btriage:[a-z0-9_:]+", expr)
    )


def test_every_alert_has_a_severity_and_a_runbook_section() -> None:
    anchors = {
        re.sub(r"[^a-z0-9-]", "", line[3:].strip().lower().replace(" ", "-"))
        for line in RUNBOOK.read_text(encoding="utf-8").splitlines()
        if line.startswith("## ")
    }
    rules = alert_rules()
    assert len(rules) >= 12
    for rule in rules:
        name = rule["alert"]
        assert rule["labels"]["severity"] in {"critical", "warning", "ticket"}, name
        url = rule["annotations"]["runbook_url"]
        assert url.endswith(f"RUNBOOK.md#{name.lower()}"), name
        assert name.lower() in anchors, f"RUNBOOK.md has no section '## {name}'"
        assert rule["annotations"]["summary"], name
        assert rule["annotations"]["description"], name


def test_every_alert_is_unit_tested_firing() -> None:
    fired = set()
    for path in (DEPLOY / "prometheus" / "tests").glob("*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fired.add(case["alertname"])
    assert {r["alert"] for r in alert_rules()} <= fired


def test_rules_and_dashboard_only_use_metrics_that_exist() -> None:
    known = exported_metric_names() | recording_rules()
    groups = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))["groups"]
    rule_exprs = [r["expr"] for g in groups for r in g["rules"]]
    exprs = rule_exprs + [t["expr"] for t in dashboard_targets()]
    for expr in exprs:
        unknown = metric_names_in(expr) - known
        assert not unknown, f"{sorted(unknown)} in {expr!r}"
    # the names the issue asks alerts on are alerted on
    alerted = set().union(*(metric_names_in(e) for e in rule_exprs))
    for name in (
        "triage_sla_cycles_total",
        "triage_escalations_total",
        "triage_sla_tickets_at_risk",
        "triage_sla_tickets_overdue",
        "triage_consumer_lag_records",
        "triage_dead_letters_total",
        "triage_events_consumed_total",
        "triage_ready",
        "triage_assigned_partitions",
    ):
        assert name in alerted, name


# --- Grafana ------------------------------------------------------------------------------------


def dashboard_targets() -> list[dict[str, Any]]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_is_provisioned_and_covers_what_ops_watch() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    datasources = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )["datasources"]
    uids = {d["uid"] for d in datasources}
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"]["uid"] in uids, panel["title"]
            assert panel["targets"], panel["title"]
    provider = yaml.safe_load(
        (DEPLOY / "grafana" / "provisioning" / "dashboards" / "triage.yml").read_text()
    )["providers"][0]
    compose = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    mounts = compose["services"]["grafana"]["volumes"]
    assert any(m.endswith(f":{provider['options']['path']}:ro") for m in mounts)
    used = set().union(*(metric_names_in(t["expr"]) for t in dashboard_targets()))
    for metric in (
        "triage_events_consumed_total",  # throughput
        "triage_consumer_lag_records",  # lag
        "triage_tickets_total",  # priorities
        "triage:sla_attainment:ratio_rate1h",  # SLA attainment
        "triage_sla_tickets_at_risk",  # open tickets at risk
        "triage_sla_next_breach_seconds",  # time to next breach
        "triage_escalations_total",  # escalations
        "triage_dead_letters_total",  # dead letters
        "triage_processing_latency_seconds_bucket",  # latency
    ):
        assert metric in used, metric


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed (make tools)")
def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    rules = [
        {"record": f"dashboard:query:{i}", "expr": t["expr"].replace("$__rate_interval", "5m")}
        for i, t in enumerate(dashboard_targets())
    ]
    path = tmp_path / "dashboard_queries.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = subprocess.run(
        ["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
