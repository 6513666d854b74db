"""Configuration from environment variables: one frozen object, read once at start-up.

Every setting has a ``TRIAGE_`` variable; the broker address also answers to the
conventional ``KAFKA_BOOTSTRAP_SERVERS``. ``load_settings`` reads them and reports a bad
value as a ``ConfigError`` naming the variable (``service/startup_errors.py``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from service.startup_errors import ConfigError, Problem, error_message


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRIAGE_", frozen=True, extra="ignore")

    # --- broker --------------------------------------------------------------------------
    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "TRIAGE_KAFKA_BOOTSTRAP_SERVERS"),
        description="host:port[,host:port…]; required for `triage run`.",
    )
    kafka_client_id: str = "triage"
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None

    # --- topics --------------------------------------------------------------------------
    topic_feedback: str = "feedback.events"
    topic_tickets: str = "tickets.prioritized"
    topic_activity: str = "tickets.activity"
    topic_escalations: str = "tickets.escalations"
    topic_dlq: str = "feedback.dlq"
    topic_sla_changelog: str = Field(
        default="triage.sla.changelog",
        description="SLA state, keyed by ticket id, co-partitioned with the tickets topic.",
    )
    topic_customer_changelog: str = Field(
        default="triage.customers.changelog",
        description="Customer histories (repeat contacts), keyed by customer id, "
        "co-partitioned with the feedback topic.",
    )
    topic_partitions: int = Field(
        default=6, ge=1, description="Partitions for topics triage creates."
    )
    topic_replication_factor: int = Field(default=1, ge=1)
    create_topics: bool = True

    # --- consumer ------------------------------------------------------------------------
    group_id: str = "triage-prioritizer"
    sla_group_id: str = "triage-sla"
    notify_group_id: str = Field(
        default="triage-notify",
        description="Consumer group of the notify role (escalations → Alertmanager).",
    )
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_batch_records: int = Field(default=2000, ge=1, description="Records per processing batch.")
    fetch_timeout_ms: int = Field(default=500, ge=10)
    fetch_max_wait_ms: int = Field(
        default=100,
        ge=1,
        description="How long the broker may hold a fetch waiting for data. Kafka answers "
        "as soon as data arrives; some compatible brokers wait the whole time, so keep it short.",
    )
    session_timeout_ms: int = Field(
        default=6_000,
        ge=1000,
        description="How long the group waits for a member that stopped heartbeating before "
        "its partitions move: what a survivor waits before it fires a dead instance's clocks. "
        "6 s is Apache Kafka's default group.min.session.timeout.ms.",
    )
    heartbeat_interval_ms: int | None = Field(
        default=None,
        ge=100,
        description="Heartbeat period; default a tenth of the session timeout (at least 1 s). "
        "A rebalance is noticed at the next heartbeat.",
    )
    instance_id: str | None = Field(
        default=None,
        description="Static group membership (KIP-345): a name that stays with the instance "
        "across restarts (a StatefulSet pod's name). A restarted instance takes its partitions "
        "back at once, without waiting out its old session; a graceful stop still leaves the "
        "group (docs/operations.md#failover). Unset: dynamic membership, the reliable choice "
        "on the embedded broker.",
    )
    max_poll_interval_ms: int = Field(default=300_000, ge=1000)

    # --- producer ------------------------------------------------------------------------
    producer_linger_ms: int = Field(default=5, ge=0)
    producer_max_batch_bytes: int = Field(default=1_048_576, ge=1024)
    producer_max_request_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024 * 1024,
        description="Largest record triage publishes; the dead-letter topic it creates accepts "
        "records this large, so an oversized input keeps its original bytes.",
    )
    producer_compression: Literal["none", "gzip", "lz4", "zstd", "snappy"] = "none"
    request_timeout_ms: int = Field(default=30_000, ge=1000)

    # --- input limits --------------------------------------------------------------------
    max_event_bytes: int = Field(
        default=512 * 1024, ge=1024, description="Larger events are dead-lettered."
    )
    max_json_depth: int = Field(default=32, ge=2)
    max_future_skew_seconds: int = Field(
        default=86_400, ge=0, description="occurred_at further in the future is rejected."
    )
    max_event_age_days: int = Field(
        default=3650, ge=1, description="occurred_at older is rejected."
    )

    # --- rules ---------------------------------------------------------------------------
    rules_path: str | None = Field(
        default=None, description="Rule file; the shipped default if unset."
    )
    model_path: str | None = Field(
        default=None,
        description="Text model folder (`triage model train --out`) for the rules' "
        "negativity conditions; the shipped model if unset.",
    )

    # --- repeat contacts -------------------------------------------------------------------
    repeat_contacts: bool = Field(
        default=True,
        description="Keep per-customer history (changelog-backed) to link and raise repeat "
        "contacts; false = stateless prioritizer, no customer changelog.",
    )
    repeat_contacts_expire_interval_seconds: float = Field(
        default=300.0, gt=0, description="How often customers past the window are forgotten."
    )

    # --- SLA monitor -----------------------------------------------------------------------
    sla_policy_path: str | None = Field(
        default=None, description="SLA policy; shipped default if unset."
    )
    sla_timer_max_sleep_seconds: float = Field(
        default=0.5, gt=0, description="Timer wakes at least this often (bounds escalation delay)."
    )
    sla_apply_policy_to_open: bool = Field(
        default=False,
        description="At start (and when a partition is taken over), give open tickets the "
        "targets the current SLA policy sets (a changed policy file); off: they keep the "
        "targets they started with, and the count that differs is logged.",
    )

    sla_standby: bool = Field(
        default=True,
        description="Keep a standby copy of every partition's clocks from the changelog and, "
        "while the group rebalances, fire the steps a dead member missed: about 0.3 KiB per "
        "open ticket of the whole deployment, in every SLA instance (docs/operations.md).",
    )
    sla_standby_grace_seconds: float = Field(
        default=1.0,
        ge=0,
        description="The standby copy fires only steps due this long before the rebalance "
        "began: a live owner's last batch (its steps, a stopped clock) reaches it first.",
    )

    # --- notify: escalations → Alertmanager (service/notify/, docs/operations.md) ------------
    alertmanager_url: str | None = Field(
        default=None,
        pattern=r"^\s*https?://[^\s,]+(\s*,\s*https?://[^\s,]+)*\s*$",
        description="Alertmanager base URL(s), comma-separated (every member of an HA "
        "cluster); alerts go to <url>/api/v2/alerts. Set: `--role all` includes notify.",
    )
    alertmanager_resend_interval_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Active alerts are re-sent this often, each with endsAt = now + 4 "
        "intervals (Alertmanager resolves an alert that is not re-sent by then).",
    )
    alertmanager_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Bound on one POST to Alertmanager."
    )
    alertmanager_retry_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Longest wait between two tries of a failed POST (exponential backoff "
        "from 0.5 s); escalations wait, uncommitted, until Alertmanager accepts them.",
    )
    alertmanager_alert_max_age_seconds: float = Field(
        default=7 * 86_400.0,
        gt=0,
        description="A warning or breach never recovered stops being re-sent this long after "
        "it started (Alertmanager then resolves it); also how far back a new owner of an "
        "escalations partition reads to rebuild its active alerts.",
    )
    alertmanager_management_alert_seconds: float = Field(
        default=86_400.0,
        gt=0,
        description="How long a management_attention alert stays active (no event resolves "
        "it: a person closes the incident).",
    )
    alertmanager_ticket_url: str = Field(
        default="",
        description="Link to a ticket in the helpdesk, with {ticket_id} (e.g. "
        "https://help.example/tickets/{ticket_id}): each alert's generatorURL. Empty: none.",
    )

    # --- process -------------------------------------------------------------------------
    http_host: str = "0.0.0.0"
    http_port: int = Field(default=8000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"
    gc_gen0_threshold: int = Field(
        default=20_000,
        ge=0,
        description="Allocations between young garbage collections (Python's default: 700); "
        "what start-up loaded is frozen out of collections. 0 = Python's defaults. See "
        "service/gc_tuning.py.",
    )
    shutdown_timeout_seconds: float = Field(default=10.0, gt=0)
    health_probe_interval_seconds: float = Field(default=5.0, gt=0)

    def require_bootstrap(self) -> str:
        if not self.kafka_bootstrap_servers:
            raise ConfigError(
                None,
                Problem(
                    "not set (e.g. KAFKA_BOOTSTRAP_SERVERS=localhost:9092)",
                    "KAFKA_BOOTSTRAP_SERVERS",
                ),
            )
        return self.kafka_bootstrap_servers

    def named_by(self, field: str) -> str | None:
        """The variable of a path setting when it is set (an error in the file names it),
        None when it is not (the shipped default is used)."""
        return env_name(field) if getattr(self, field) else None


def env_name(field: str) -> str:
    """The environment variable of a setting (the first, for one with several)."""
    info = Settings.model_fields.get(field)
    alias = info.validation_alias if info is not None else None
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    if isinstance(alias, str):
        return alias
    return f"{Settings.model_config.get('env_prefix', '')}{field}".upper()


def load_settings(**values: Any) -> Settings:
    """The settings from the environment (and ``values``); a ``ConfigError`` that names
    every bad variable and what is wrong with it."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else ""
            info = Settings.model_fields.get(field)
            if info is not None and "SecretStr" in str(info.annotation):
                err = {**err, "input": None}  # a secret is never echoed
            name = env_name(field) if info is not None else field.upper()
            problems.append(Problem(error_message(err), name))
        raise ConfigError(None, problems) from exc
    except SettingsError as exc:
        raise ConfigError(None, str(exc)) from exc
