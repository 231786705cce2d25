"""The deployment kit in infra/ holds together.

Every YAML file parses. The Dagster instance files pass Dagster's own instance schema. The
Helm values render the same instance as infra/dagster.yaml. The image installs the project
and serves the code location's module. The vLLM server gets the GPUs it shards over and
serves where its Service points. Every referenced Secret is defined with placeholders only,
and nothing that looks like a real key is committed. Pure file checks: no cluster, no Docker,
no network.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import shutil
import subprocess
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import dagster as dg
import pytest
import yaml

from linkqa_pipelines_tests.dockerfile import dockerfile_instructions, image_env, image_user, runs_as_user

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
INSTANCE_FILES = ("dagster.yaml", "local-postgres.dagster.yaml")
YAML_FILES = sorted(p for p in INFRA.rglob("*") if p.suffix in {".yaml", ".yml"})
EXPECTED_YAML = {
    "dagster.yaml",
    "local-postgres.dagster.yaml",
    "helm/values.yaml",
    "k8s/vllm-server.yaml",
    "k8s/secrets.example.yaml",
    "k8s/linkqa-env.yaml",
    "k8s/linkqa-home-pvc.yaml",
}


K8S_RUN_CONFIG_KEYS = {
    "container_config",
    "pod_template_spec_metadata",
    "pod_spec_config",
    "job_config",
    "job_metadata",
    "job_spec_config",
}

# Keys of the dagster/dagster chart's values schema (helm/dagster/schema) for the sections
# these values use; a misspelt key would otherwise be dropped silently by the templates.
HELM_KEYS: dict[str, set[str]] = {
    "": {
        "dagsterWebserver",
        "dagster-user-deployments",
        "postgresql",
        "generatePostgresqlPasswordSecret",
        "generateCeleryConfigSecret",
        "rabbitmq",
        "redis",
        "flower",
        "ingress",
        "imagePullSecrets",
        "computeLogManager",
        "scheduler",
        "runLauncher",
        "pythonLogs",
        "dagsterDaemon",
        "busybox",
        "migrate",
        "telemetry",
        "serviceAccount",
        "global",
        "retention",
        "concurrency",
        "additionalInstanceConfig",
    },
    "global": {
        "postgresqlSecretName",
        "dagsterHome",
        "serviceAccountName",
        "celeryConfigSecretName",
        "dagsterInstanceConfigMap",
        "postgresqlAuthWifEnabled",
    },
    "postgresql": {
        "image",
        "enabled",
        "postgresqlHost",
        "postgresqlUsername",
        "postgresqlPassword",
        "postgresqlDatabase",
        "postgresqlParams",
        "postgresqlScheme",
        "service",
        "authProvider",
    },
    "serviceAccount": {"create", "name", "annotations"},
    "dagsterWebserver": {
        "replicaCount",
        "image",
        "nameOverride",
        "pathPrefix",
        "service",
        "workspace",
        "env",
        "envConfigMaps",
        "envSecrets",
        "deploymentLabels",
        "labels",
        "nodeSelector",
        "affinity",
        "tolerations",
        "podSecurityContext",
        "securityContext",
        "resources",
        "readinessProbe",
        "livenessProbe",
        "startupProbe",
        "annotations",
        "enableReadOnly",
        "dbStatementTimeout",
        "dbPoolRecycle",
        "logLevel",
        "schedulerName",
        "volumeMounts",
        "volumes",
    },
    "dagsterDaemon": {
        "enabled",
        "image",
        "runCoordinator",
        "heartbeatTolerance",
        "env",
        "envConfigMaps",
        "envSecrets",
        "deploymentLabels",
        "labels",
        "nodeSelector",
        "affinity",
        "tolerations",
        "podSecurityContext",
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "annotations",
        "runMonitoring",
        "runRetries",
        "sensors",
        "schedules",
        "schedulerName",
        "volumeMounts",
        "volumes",
    },
    "queuedRunCoordinator": {
        "maxConcurrentRuns",
        "tagConcurrencyLimits",
        "dequeueIntervalSeconds",
        "dequeueNumWorkers",
        "dequeueUseThreads",
        "blockOpConcurrencyLimitedRuns",
    },
    "runMonitoring": {
        "enabled",
        "startTimeoutSeconds",
        "cancelTimeoutSeconds",
        "maxResumeRunAttempts",
        "pollIntervalSeconds",
        "freeSlotsAfterRunEndSeconds",
    },
    "concurrency": {"enabled", "pools", "runs"},
    "pools": {"defaultLimit", "granularity", "opGranularityRunBuffer"},
    "runs": {"maxConcurrentRuns", "tagConcurrencyLimits"},
    "s3ComputeLogManager": {
        "bucket",
        "localDir",
        "prefix",
        "useSsl",
        "verify",
        "verifyCertPath",
        "endpointUrl",
        "skipEmptyFiles",
        "uploadInterval",
        "uploadExtraArgs",
        "showUrlOnly",
        "region",
    },
    "k8sRunLauncher": {
        "image",
        "imagePullPolicy",
        "jobNamespace",
        "loadInclusterConfig",
        "kubeconfigFile",
        "envConfigMaps",
        "envSecrets",
        "envVars",
        "volumeMounts",
        "volumes",
        "labels",
        "failPodOnRunFailure",
        "resources",
        "schedulerName",
        "securityContext",
        "runK8sConfig",
    },
    "runK8sConfig": {
        "containerConfig",
        "podSpecConfig",
        "podTemplateSpecMetadata",
        "jobSpecConfig",
        "jobMetadata",
    },
    "userDeployment": {
        "name",
        "image",
        "dagsterApiGrpcArgs",
        "codeServerArgs",
        "includeConfigInLaunchedRuns",
        "deploymentNamespace",
        "port",
        "replicaCount",
        "env",
        "envConfigMaps",
        "envSecrets",
        "annotations",
        "nodeSelector",
        "affinity",
        "tolerations",
        "podSecurityContext",
        "securityContext",
        "resources",
        "livenessProbe",
        "readinessProbe",
        "startupProbe",
        "labels",
        "volumeMounts",
        "volumes",
        "schedulerName",
        "initContainers",
        "sidecarContainers",
        "deploymentStrategy",
    },
}

PLACEHOLDER = re.compile(r"^(REPLACE_[A-Z0-9_]+)?$")
SECRET_PATTERNS = {
    "OpenAI-style API key": re.compile(r"sk-[A-Za-z0-9_-]{20,}"),
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "Hugging Face token": re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    "private key block": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
}
# Keys whose value is the secret itself (not the name of a Secret that holds it).
SECRET_VALUE_KEY = re.compile(r"(^|_)(password|token|api_key|secret_key|secret_access_key)$")


# ---- helpers ------------------------------------------------------------------------------
def load_docs(path: Path) -> list[Any]:
    with path.open(encoding="utf-8") as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def load_one(relative: str) -> dict[str, Any]:
    docs = load_docs(INFRA / relative)
    assert len(docs) == 1, f"{relative}: expected one YAML document, found {len(docs)}"
    return docs[0]


def manifests(relative: str) -> dict[tuple[str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"]["name"]): d for d in load_docs(INFRA / relative)}


def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", name).lower()


def snake_keys(value: Any) -> Any:
    """Kubernetes objects in Dagster config accept snake_case or camelCase; compare as snake."""
    if isinstance(value, Mapping):
        return {snake(k): snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snake_keys(v) for v in value]
    return value


def names(refs: list[Mapping[str, str]] | None) -> list[str]:
    return [ref["name"] for ref in refs or []]


def walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for key, child in value.items():
            yield from walk(child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from walk(child, f"{path}[{i}]")
    else:
        yield path, value


def env_names(value: Any) -> set[str]:
    """Names of the environment variables a config block reads (`{env: NAME}` values)."""
    if isinstance(value, Mapping):
        if set(value) == {"env"} and isinstance(value["env"], str):
            return {value["env"]}
        return {name for child in value.values() for name in env_names(child)}
    if isinstance(value, list):
        return {name for child in value for name in env_names(child)}
    return set()


def class_config_errors(klass: Any, config: Mapping[str, Any]) -> list[str]:
    """`config` checked against the class's own schema (`ConfigurableClass.config_type()`).

    Dagster has no public "validate this config against that schema" call, so the schema becomes
    the config schema of a one-op job and the public `dg.validate_run_config` checks it. That also
    resolves `{env: NAME}` values, so each one read here gets a placeholder value ("1", which
    parses as a string or an int) for the check.
    """

    @dg.op(name="configurable_class", config_schema=klass.config_type())
    def configurable_class() -> None: ...

    @dg.job(name="configurable_class_config")
    def probe() -> None:
        configurable_class()

    with pytest.MonkeyPatch.context() as env:
        for name in env_names(config):
            env.setenv(name, "1")
        try:
            dg.validate_run_config(probe, {"ops": {"configurable_class": {"config": dict(config)}}})
        except dg.DagsterInvalidConfigError as exc:
            return list(exc.error_messages)
    return []


def configurable_class_errors(section: Mapping[str, Any]) -> list[str]:
    """Validate a `module`/`class`/`config` block against the class's own config schema.

    The dev extra installs dagster-postgres and dagster-k8s, so every class the kit names loads."""
    module, class_name = section["module"], section["class"]
    try:
        klass = getattr(importlib.import_module(module), class_name)
    except (ImportError, AttributeError) as exc:
        return [f"{module}.{class_name}: cannot load the class: {exc}"]
    return class_config_errors(klass, section.get("config") or {})


UNSET_ENV = re.compile(r'environment variable "(\w+)" which is not set')


def instance_schema_errors(base_dir: Path, filename: str) -> list[str]:
    """Dagster's instance schema on the whole file, through the public loader.

    `dg.DagsterInstance.get()` loads `$DAGSTER_HOME/dagster.yaml` and validates the whole file
    (raising DagsterInvalidConfigError) before it builds any part of the instance. The variables
    the file reads (`{env: NAME}`) are unset here, so a valid file then fails to build its storage
    on exactly those: that failure means "valid" (connecting is test_postgres_instance.py's job).
    """
    raw = yaml.safe_load((base_dir / filename).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as home, pytest.MonkeyPatch.context() as env:
        shutil.copy(base_dir / filename, Path(home) / "dagster.yaml")
        env.setenv("DAGSTER_HOME", home)
        for name in env_names(raw):
            env.delenv(name, raising=False)
        try:
            dg.DagsterInstance.get().dispose()
        except dg.DagsterInvalidConfigError as exc:
            unset = [UNSET_ENV.search(e) for e in exc.error_messages]
            if not (unset and all(m and m.group(1) in env_names(raw) for m in unset)):
                return [str(exc)]
    return []


def instance_errors(base_dir: Path, filename: str) -> list[str]:
    """Dagster's instance schema on the whole file, then each class's own config schema."""
    schema_errors = instance_schema_errors(base_dir, filename)
    if schema_errors:
        return schema_errors
    raw = yaml.safe_load((base_dir / filename).read_text(encoding="utf-8"))
    return [
        f"{key}: {err}"
        for key, section in raw.items()
        if isinstance(section, Mapping) and "module" in section
        for err in configurable_class_errors(section)
    ]


def vllm_flags(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Positional args and `--flag=value` / `--flag value` options of `vllm serve`."""
    positional: list[str] = []
    flags: dict[str, str] = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg.startswith("--"):
            key, eq, value = arg[2:].partition("=")
            if not eq and i + 1 < len(args) and not args[i + 1].startswith("--"):
                value, i = args[i + 1], i + 1
            flags[key] = value
        else:
            positional.append(arg)
        i += 1
    return positional, flags


def scan_for_secrets(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8", errors="replace")
    return [f"{path.name}: {label}" for label, rx in SECRET_PATTERNS.items() if rx.search(text)]


# ---- every YAML file -------------------------------------------------------------------------
def test_the_kit_has_every_expected_yaml_file() -> None:
    found = {p.relative_to(INFRA).as_posix() for p in YAML_FILES}
    assert found >= EXPECTED_YAML, f"missing: {sorted(EXPECTED_YAML - found)}"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_yaml_parses_into_mappings(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{path}: no YAML document"
    assert all(isinstance(d, dict) for d in docs), f"{path}: every document must be a mapping"
    if path.parent.name == "k8s":
        for doc in docs:
            assert doc.get("apiVersion") and doc.get("kind") and doc.get("metadata", {}).get("name"), (
                f"{path}: Kubernetes manifest without apiVersion/kind/metadata.name: {doc}"
            )


# ---- Dagster instance files ------------------------------------------------------------------
@pytest.mark.parametrize("filename", INSTANCE_FILES)
def test_instance_file_passes_dagster_schema(filename: str) -> None:
    assert instance_errors(INFRA, filename) == []


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        # Dagster 1.13: run limits in both the coordinator and `concurrency.runs` is an error.
        (lambda c: c["run_coordinator"]["config"].update(max_concurrent_runs=5), "incompatible"),
        (lambda c: c["run_monitoring"].update(start_timeout=60), "start_timeout"),
        (lambda c: c["concurrency"]["pools"].update(granularity="partition"), "granularity"),
        (lambda c: c["run_coordinator"].update(module="dagster.core.run_coordinator"), "dagster.core"),
        (lambda c: c["compute_logs"]["config"].pop("bucket"), "bucket"),
        (lambda c: c["run_launcher"]["config"].pop("instance_config_map"), "instance_config_map"),
        (lambda c: c["run_launcher"]["config"].update(namespace="linkqa"), "namespace"),
    ],
    ids=[
        "run-limits-twice",
        "typo-key",
        "bad-granularity",
        "stale-module-path",
        "no-bucket",
        "k8s-required-key",
        "k8s-unknown-key",
    ],
)
def test_instance_validation_catches_broken_configs(tmp_path: Path, mutate: Any, expected: str) -> None:
    config = load_one("dagster.yaml")
    mutate(config)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    errors = instance_errors(tmp_path, "dagster.yaml")
    assert errors and any(expected in e for e in errors), errors


def test_production_instance_shape() -> None:
    cfg = load_one("dagster.yaml")
    pg = cfg["storage"]["postgres"]["postgres_db"]
    for key in ("hostname", "username", "password", "db_name"):
        assert set(pg[key]) == {"env"}, f"postgres {key} must come from the environment"
    assert pg["scheme"] == "postgresql+psycopg2", "the driver the `postgres` extra installs, named"
    launcher = cfg["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
    lc = launcher["config"]
    assert lc["job_namespace"] and lc["service_account_name"]
    assert lc["image_pull_policy"] in {"IfNotPresent", "Always"}
    assert {"linkqa-llm", "linkqa-aws"} <= set(lc["env_secrets"])
    assert "job_image" not in lc, "run pods must take the code location's image"
    assert cfg["run_coordinator"]["class"] == "QueuedRunCoordinator"
    runs = cfg["concurrency"]["runs"]
    assert runs["max_concurrent_runs"] > 0 and runs["tag_concurrency_limits"]
    backfill = [t for t in runs["tag_concurrency_limits"] if t["key"] == "dagster/backfill"]
    assert backfill and backfill[0]["limit"] < runs["max_concurrent_runs"]
    assert cfg["concurrency"]["pools"]["default_limit"] >= 1
    logs = cfg["compute_logs"]
    assert (logs["module"], logs["class"]) == ("dagster_aws.s3.compute_log_manager", "S3ComputeLogManager")
    assert set(logs["config"]["bucket"]) == {"env"} and set(logs["config"]["prefix"]) == {"env"}
    assert cfg["run_monitoring"]["enabled"] is True
    assert cfg["telemetry"] == {"enabled": False}


def test_single_vm_instance_uses_postgres_and_local_processes() -> None:
    cfg = load_one("local-postgres.dagster.yaml")
    assert cfg["storage"]["postgres"]["postgres_db"]["scheme"] == "postgresql+psycopg2"
    assert cfg["run_launcher"]["class"] == "DefaultRunLauncher"
    assert cfg["concurrency"]["runs"]["max_concurrent_runs"] >= 1
    assert cfg["telemetry"] == {"enabled": False}


# ---- Helm values -------------------------------------------------------------------------------
def test_helm_values_use_only_chart_keys() -> None:
    values = load_one("helm/values.yaml")
    daemon = values["dagsterDaemon"]
    launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    sections = {
        "": values,
        "global": values["global"],
        "postgresql": values["postgresql"],
        "serviceAccount": values["serviceAccount"],
        "dagsterWebserver": values["dagsterWebserver"],
        "dagsterDaemon": daemon,
        "queuedRunCoordinator": daemon["runCoordinator"]["config"]["queuedRunCoordinator"],
        "runMonitoring": daemon["runMonitoring"],
        "concurrency": values["concurrency"],
        "pools": values["concurrency"]["pools"],
        "runs": values["concurrency"]["runs"],
        "s3ComputeLogManager": values["computeLogManager"]["config"]["s3ComputeLogManager"],
        "k8sRunLauncher": launcher,
        "runK8sConfig": launcher["runK8sConfig"],
        "userDeployment": deployment,
    }
    unknown = {name: sorted(set(section) - HELM_KEYS[name]) for name, section in sections.items()}
    assert not {k: v for k, v in unknown.items() if v}, unknown
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["computeLogManager"]["type"] == "S3ComputeLogManager"
    assert daemon["runCoordinator"]["type"] == "QueuedRunCoordinator"


def test_helm_values_and_dagster_yaml_describe_the_same_instance() -> None:
    values = load_one("helm/values.yaml")
    cfg = load_one("dagster.yaml")
    daemon = values["dagsterDaemon"]
    conc = values["concurrency"]
    assert conc["enabled"] is True
    assert {snake(k): v for k, v in conc["pools"].items()} == cfg["concurrency"]["pools"]
    assert {snake(k): v for k, v in conc["runs"].items()} == cfg["concurrency"]["runs"]
    # The chart fails when the queued coordinator sets run limits next to `concurrency.runs`.
    qrc = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert qrc.get("maxConcurrentRuns") is None and not qrc.get("tagConcurrencyLimits")
    assert {snake(k): v for k, v in daemon["runMonitoring"].items()} == cfg["run_monitoring"]
    assert {snake(k): v for k, v in daemon["runRetries"].items()} == cfg["run_retries"]
    s3 = values["computeLogManager"]["config"]["s3ComputeLogManager"]
    assert {snake(k): v for k, v in s3.items()} == cfg["compute_logs"]["config"]
    assert values["telemetry"] == cfg["telemetry"]

    helm_launcher = values["runLauncher"]["config"]["k8sRunLauncher"]
    launcher = cfg["run_launcher"]["config"]
    assert helm_launcher["jobNamespace"] == launcher["job_namespace"]
    assert helm_launcher["imagePullPolicy"] == launcher["image_pull_policy"]
    assert names(helm_launcher["envSecrets"]) == launcher["env_secrets"]
    assert names(helm_launcher["envConfigMaps"]) == launcher["env_config_maps"]
    assert snake_keys(helm_launcher["runK8sConfig"]) == launcher["run_k8s_config"]
    assert values["serviceAccount"]["name"] == launcher["service_account_name"]
    assert values["global"]["postgresqlSecretName"] == launcher["postgres_password_secret"]

    (deployment,) = values["dagster-user-deployments"]["deployments"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True
    assert snake_keys(deployment["volumes"]) == launcher["volumes"]
    assert snake_keys(deployment["volumeMounts"]) == launcher["volume_mounts"]
    # Run pods inherit the code server's resources and scheduling: none may be set there.
    assert not {"resources", "nodeSelector", "tolerations"} & set(deployment)
    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    # One driver (psycopg2) and one image with it for every pod that opens the instance.
    assert values["postgresql"]["postgresqlScheme"] == cfg["storage"]["postgres"]["postgres_db"]["scheme"]
    assert values["dagsterWebserver"]["image"] == values["dagsterDaemon"]["image"] == deployment["image"]
    assert "postgresqlPassword" not in values["postgresql"]


# ---- Dockerfile ----------------------------------------------------------------------------------
def test_dockerfile_installs_the_project_and_serves_its_code_location() -> None:
    instructions = dockerfile_instructions()
    kinds = [kind for kind, _ in instructions]
    assert instructions[0] == ("FROM", "python:3.11-slim")
    assert ("ARG", "WITH_VLLM=0") in instructions
    runs = " ".join(args for kind, args in instructions if kind == "RUN")
    assert re.search(r'pip install "\.\[\$\{extras\}\]"', runs), "must pip install the project itself"
    # Installed, the source copy must leave the WORKDIR, where it would shadow site-packages.
    assert re.search(r'pip install "\.\[\$\{extras\}\]"\s+&& rm -rf linkqa_pipelines ', runs)
    for kind, args in instructions:
        if kind == "COPY":
            *sources, _dest = args.split()
            for source in sources:
                assert (ROOT / source).exists(), f"COPY {source}: not in the build context"
    ignored = {
        line.strip()
        for line in (INFRA / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not ignored & {"pyproject.toml", "README.md", "workspace.yaml", "linkqa_pipelines"}
    env = image_env(instructions)
    assert env["DAGSTER_HOME"] == "/opt/dagster/dagster_home" and env["LINKQA_HOME"] == "/var/lib/linkqa"
    assert env["NUMBA_CACHE_DIR"].startswith("/") and not env["NUMBA_CACHE_DIR"].startswith("/tmp")

    uid, _gid = image_user(instructions)
    assert uid != 0
    user_at = kinds.index("USER")
    assert "pip install" not in " ".join(runs_as_user(instructions)), "install as root, then drop root"
    assert any("pip install" in args for kind, args in instructions[:user_at] if kind == "RUN")
    # The image checks itself as the user its pods run as (test_production_image.py replays it).
    assert any("linkqa_pipelines.definitions" in check for check in runs_as_user(instructions))
    # The chart and the run launcher set container args; an ENTRYPOINT would be prepended to them.
    assert "ENTRYPOINT" not in kinds
    cmd = json.loads(instructions[kinds.index("CMD")][1])
    assert cmd[:3] == ["dagster", "code-server", "start"]
    module = cmd[cmd.index("-m") + 1]
    assert cmd[cmd.index("-h") + 1] == "0.0.0.0"
    port = int(cmd[cmd.index("-p") + 1])
    assert ("EXPOSE", str(port)) in instructions

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert module == pyproject["tool"]["dg"]["project"]["code_location_target_module"]
    assert importlib.util.find_spec(module) is not None, f"{module} is not importable"
    (deployment,) = load_one("helm/values.yaml")["dagster-user-deployments"]["deployments"]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", module]
    assert deployment["port"] == port


@pytest.mark.slow  # runs bash
@pytest.mark.parametrize(("with_vllm", "extras"), [("0", "postgres,k8s"), ("1", "postgres,k8s,vllm"), ("yes", None)])
def test_dockerfile_build_arg_selects_the_vllm_extra(with_vllm: str, extras: str | None) -> None:
    runs = " ".join(args for kind, args in dockerfile_instructions() if kind == "RUN")
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    assert extras is None or set(extras.split(",")) <= set(declared), "the image installs undeclared extras"
    case = re.search(r"case .*? esac", runs)
    assert case, "the WITH_VLLM switch is a shell case statement"
    proc = subprocess.run(
        ["bash", "-c", case.group(0) + ' && printf %s "$extras"'],
        env={"WITH_VLLM": with_vllm, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=10,
    )
    if extras is None:
        assert proc.returncode != 0 and "WITH_VLLM must be 0 or 1" in proc.stderr
    else:
        assert proc.returncode == 0 and proc.stdout == extras


# ---- vLLM server ---------------------------------------------------------------------------------
def test_vllm_server_requests_gpus_and_serves_where_its_service_points() -> None:
    objs = manifests("k8s/vllm-server.yaml")
    deployment = objs[("Deployment", "vllm")]
    service = objs[("Service", "vllm")]
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    assert container["command"] == ["vllm", "serve"]
    (model,), flags = vllm_flags(container["args"])

    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    gpus = int(limits["nvidia.com/gpu"])
    assert gpus >= 1 and int(requests["nvidia.com/gpu"]) == gpus
    assert int(flags["tensor-parallel-size"]) == gpus, "tensor parallelism must use every requested GPU"
    assert flags["reasoning-parser"] == "deepseek_r1"
    assert int(flags["max-model-len"]) > 0 and 0 < float(flags["gpu-memory-utilization"]) <= 1
    assert flags["host"] == "0.0.0.0"

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    serve_port = int(flags["port"])
    assert serve_port in ports.values()
    (svc_port,) = service["spec"]["ports"]
    target = svc_port["targetPort"]
    assert (ports[target] if isinstance(target, str) else target) == serve_port
    labels = pod["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        port = get["port"]
        assert get["path"] == "/health" and (ports[port] if isinstance(port, str) else port) == serve_port, probe

    env = {e["name"]: e for e in container["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"]["name"]
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    cache_mounts = [m for m in container["volumeMounts"] if env["HF_HOME"]["value"].startswith(m["mountPath"])]
    assert cache_mounts, "HF_HOME must be on a mounted volume"
    cache = volumes[cache_mounts[0]["name"]]
    if "persistentVolumeClaim" in cache:
        assert ("PersistentVolumeClaim", cache["persistentVolumeClaim"]["claimName"]) in objs
    else:
        assert "emptyDir" in cache

    # The pipeline's default endpoint is this Service, and it asks for the model served here.
    settings = manifests("k8s/linkqa-env.yaml")[("ConfigMap", "linkqa-env")]["data"]
    url = urlparse(settings["LINKQA_LLM_BASE_URL"])
    assert (url.hostname, url.port, url.path) == (service["metadata"]["name"], svc_port["port"], "/v1")
    assert settings["LINKQA_LLM_MODEL"] == flags.get("served-model-name", model)
    assert settings["LINKQA_LLM_BACKEND"] in {"offline", "openai", "vllm"}


def test_linkqa_home_is_the_same_path_everywhere() -> None:
    settings = manifests("k8s/linkqa-env.yaml")[("ConfigMap", "linkqa-env")]["data"]
    home = settings["LINKQA_HOME"]
    assert image_env(dockerfile_instructions())["LINKQA_HOME"] == home
    mounts = load_one("dagster.yaml")["run_launcher"]["config"]["volume_mounts"]
    assert [m["mount_path"] for m in mounts if m["name"] == "linkqa-home"] == [home]
    pvc = manifests("k8s/linkqa-home-pvc.yaml")[("PersistentVolumeClaim", "linkqa-home")]
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"], "many run pods mount it at once"


# ---- secrets -------------------------------------------------------------------------------------
def referenced_secrets() -> list[tuple[str, str, str | None]]:
    """(where, secret name, key or None) for every Secret the kit points at."""
    refs: list[tuple[str, str, str | None]] = []
    launcher = load_one("dagster.yaml")["run_launcher"]["config"]
    refs += [("dagster.yaml", name, None) for name in launcher["env_secrets"]]
    refs.append(("dagster.yaml", launcher["postgres_password_secret"], "postgresql-password"))
    values = load_one("helm/values.yaml")
    refs.append(("helm", values["global"]["postgresqlSecretName"], "postgresql-password"))
    sections = [
        values["dagsterWebserver"],
        values["dagsterDaemon"],
        values["runLauncher"]["config"]["k8sRunLauncher"],
        *values["dagster-user-deployments"]["deployments"],
    ]
    refs += [("helm", name, None) for section in sections for name in names(section.get("envSecrets"))]
    flat = dict(walk(manifests("k8s/vllm-server.yaml")[("Deployment", "vllm")]))
    refs += [
        ("vllm-server.yaml", name, flat[path.removesuffix("name") + "key"])
        for path, name in flat.items()
        if path.endswith("secretKeyRef.name")
    ]
    return refs


def test_every_referenced_secret_is_in_the_example_with_its_keys() -> None:
    examples = {
        name: doc.get("stringData", {})
        for (kind, name), doc in manifests("k8s/secrets.example.yaml").items()
        if kind == "Secret"
    }
    refs = referenced_secrets()
    assert {where for where, _, _ in refs} == {"dagster.yaml", "helm", "vllm-server.yaml"}
    for where, name, key in refs:
        assert name in examples, f"{where} references Secret {name!r}, missing from secrets.example.yaml"
        if key is not None:
            assert key in examples[name], f"{where}: Secret {name!r} has no key {key!r}"
    assert "LINKQA_LLM_API_KEY" in examples["linkqa-llm"]


def test_secret_example_holds_placeholders_only() -> None:
    docs = load_docs(INFRA / "k8s" / "secrets.example.yaml")
    assert docs and all(d["kind"] == "Secret" for d in docs)
    for doc in docs:
        assert "data" not in doc, "base64 `data` could hide a real value; use stringData placeholders"
        for key, value in doc["stringData"].items():
            assert PLACEHOLDER.match(str(value)), f"{doc['metadata']['name']}.{key} = {value!r} is not a placeholder"


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: p.relative_to(INFRA).as_posix())
def test_secret_like_yaml_values_are_placeholders_or_references(path: Path) -> None:
    for doc in load_docs(path):
        for key_path, value in walk(doc):
            leaf = snake(re.sub(r"\[\d+\]$", "", key_path.rsplit(".", 1)[-1])).replace("-", "_")
            if SECRET_VALUE_KEY.search(leaf) and isinstance(value, (str, int)):
                assert PLACEHOLDER.match(str(value)), f"{path.name}: {key_path} = {value!r} is not a placeholder"


def test_no_file_contains_something_that_looks_like_a_real_secret() -> None:
    files = [p for p in INFRA.rglob("*") if p.is_file()]
    assert len(files) >= len(EXPECTED_YAML) + 3
    assert [hit for p in files for hit in scan_for_secrets(p)] == []


def test_secret_scanner_catches_real_looking_keys(tmp_path: Path) -> None:
    # Assembled at run time so that this test file holds no key-shaped literal itself.
    samples = {
        "OpenAI-style API key": "sk-" + "Ab3dE6gH9jK2mN5pQ8sT" * 2,
        "AWS access key id": "AKIA" + "QWERTYUIOP123456",
        "Hugging Face token": "hf_" + "aBcDeFgHiJ" * 4,
        "GitHub token": "ghp_" + "0123456789abcdefghij" * 2,
        "private key block": "-----BEGIN RSA " + "PRIVATE KEY-----",
    }
    assert set(samples) == set(SECRET_PATTERNS)
    folder = tmp_path / "infra"
    folder.mkdir()
    for label, sample in samples.items():
        leaked = folder / "leak.yaml"
        leaked.write_text(f"apiKey: {sample}\n", encoding="utf-8")
        assert scan_for_secrets(leaked) == [f"leak.yaml: {label}"]
    (folder / "clean.yaml").write_text("apiKey: REPLACE_WITH_LLM_API_KEY\n", encoding="utf-8")
    assert scan_for_secrets(folder / "clean.yaml") == []


# ---- the pipeline's own pool names and GPU tags --------------------------------------------
# Imported inside the tests so that the rest of this file does not depend on the LLM layer.
def test_readme_pool_example_is_the_pool_the_pipeline_uses() -> None:
    from linkqa_pipelines.core.llm import LLMSettings

    # from_env validates every LINKQA_LLM_* value in the ConfigMap the way run pods read them.
    settings = LLMSettings.from_env(manifests("k8s/linkqa-env.yaml")[("ConfigMap", "linkqa-env")]["data"])
    assert (settings.backend, settings.concurrency) == ("openai", 32)
    pool = settings.pool_name()
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    assert f"dagster instance concurrency set {pool} " in readme


def test_pipeline_gpu_tag_is_valid_k8s_config_for_dagster() -> None:
    from linkqa_pipelines.lib.model_stage import gpu_op_tags

    tags = gpu_op_tags(2)
    (config,) = tags.values()
    assert list(tags) == ["dagster-k8s/config"]
    assert set(config) <= K8S_RUN_CONFIG_KEYS
    assert config["container_config"]["resources"]["limits"]["nvidia.com/gpu"] == "2"
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    assert json.dumps(gpu_op_tags(1)) in readme


def step_pod_container(step_tags: Mapping[str, str]) -> Any:
    """The container of the pod k8s_job_executor builds for a step with these tags.

    The executor's own steps (`K8sStepHandler._get_container_context`, then
    `construct_dagster_k8s_job`): the run launcher's defaults from infra/dagster.yaml, deep-merged
    with the step's `dagster-k8s/config` tag. Only the cluster calls are left out."""
    from dagster_k8s import DagsterK8sJobConfig, construct_dagster_k8s_job
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import UserDefinedDagsterK8sConfig, get_user_defined_k8s_config

    launcher = load_one("dagster.yaml")["run_launcher"]["config"]
    run_defaults = K8sContainerContext(run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(launcher["run_k8s_config"]))
    context = run_defaults.merge(K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(step_tags)))
    job = construct_dagster_k8s_job(
        DagsterK8sJobConfig(job_image="REGISTRY/linkqa-pipelines:0.1.0", dagster_home=launcher["dagster_home"]),
        args=["dagster", "api", "execute_step"],
        job_name="dagster-step-probe",
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
    )
    assert job.spec is not None and job.spec.template.spec is not None
    (container,) = job.spec.template.spec.containers
    return container


def test_k8s_executor_gives_only_model_steps_their_gpus() -> None:
    from dagster_k8s import k8s_job_executor

    from linkqa_pipelines.definitions import build_definitions, run_executor
    from linkqa_pipelines.lib.model_stage import gpu_op_tags

    env = {
        "LINKQA_EXECUTOR": "k8s",
        "LINKQA_LLM_BACKEND": "vllm",
        "LINKQA_LLM_MODEL": "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B",
        "LINKQA_LLM_TENSOR_PARALLEL_SIZE": "2",
    }
    defs = build_definitions(env=env)
    repo = defs.get_repository_def()
    jobs = repo.get_all_jobs()
    assert jobs and all(job.executor_def is k8s_job_executor for job in jobs), [
        (job.name, job.executor_def.name) for job in jobs
    ]

    gpu_steps, cpu_steps = [], []
    for assets_def in repo.assets_defs_by_key.values():
        if not assets_def.is_executable:
            continue
        tags = dict(assets_def.op.tags)
        (gpu_steps if "dagster-k8s/config" in tags else cpu_steps).append(tags)
    assert gpu_steps and cpu_steps
    for tags in gpu_steps:
        assert json.loads(tags["dagster-k8s/config"]) == gpu_op_tags(2)["dagster-k8s/config"]
        resources = step_pod_container(tags).resources
        # The GPU request is added to the run pods' CPU and memory defaults, not in place of them.
        assert resources.limits == {"nvidia.com/gpu": "2", "memory": "8Gi"}
        assert resources.requests == {"cpu": "1", "memory": "4Gi"}
    for tags in cpu_steps:
        assert "nvidia.com/gpu" not in (step_pod_container(tags).resources.limits or {})

    # Without the setting, jobs keep Dagster's default executor; a typo fails at load, naming it.
    assert run_executor({}) is None and run_executor({"LINKQA_EXECUTOR": "multiprocess"}) is None
    with pytest.raises(ValueError, match="LINKQA_EXECUTOR='kubernetes'"):
        run_executor({"LINKQA_EXECUTOR": "kubernetes"})


def test_configmap_executor_setting_is_valid() -> None:
    from linkqa_pipelines.settings import executor_choice

    data = manifests("k8s/linkqa-env.yaml")[("ConfigMap", "linkqa-env")]["data"]
    assert executor_choice(data) == data["LINKQA_EXECUTOR"]


# ---- README --------------------------------------------------------------------------------------
def test_readme_covers_every_file_and_the_operations() -> None:
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    for path in INFRA.rglob("*"):
        if path.is_file() and path.name != "README.md":
            assert f"`{path.relative_to(INFRA).as_posix()}`" in readme, f"README does not describe {path.name}"
    for needle in (
        "helm upgrade --install",
        "kubectl create secret generic",
        "dagster job backfill",
        "dagster instance concurrency set",
        "default_limit",
        "nvidia.com/gpu",
        "dagster-k8s/config",
        "llm_<host>_<model>",
    ):
        assert needle in readme, f"README lacks {needle!r}"
