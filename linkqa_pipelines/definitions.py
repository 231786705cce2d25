"""The code location: every stage folder's assets and checks, the jobs, the sensors and the resources.

`build_definitions(env)` is what the CLI and tests call with the settings they want;
`defs` builds it from the environment when Dagster loads the code location (never at import:
`@definitions` defers it). Model-backed stages are built by factories because where they run
(pool, kinds, GPU tags) is fixed at load time by the configured LLM backend. Every asset passes
through `standard_asset` (owners, code version, column schema) on its way in.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from dagster import Definitions, ExecutorDefinition, definitions, load_asset_checks_from_modules
from dagster_aws.s3 import S3Resource

from linkqa_pipelines.core.llm import LLMSettings
from linkqa_pipelines.defs.automation import SENSORS, run_failures_spec
from linkqa_pipelines.defs.contract_checks import contract_checks
from linkqa_pipelines.defs.difficulty.assets import build_difficulty
from linkqa_pipelines.defs.graph.assets import kp_graph
from linkqa_pipelines.defs.jobs import JOBS
from linkqa_pipelines.defs.knowledge_points.assets import build_kp_extraction, kp_catalog
from linkqa_pipelines.defs.release import checks as release_checks
from linkqa_pipelines.defs.release.assets import benchmark_items, linkqa_dataset, linkqa_release, screened_qa
from linkqa_pipelines.defs.seeds import checks as seed_checks
from linkqa_pipelines.defs.seeds.assets import ingest_seeds, seed_qa
from linkqa_pipelines.defs.seeds.config import PipelineInputs
from linkqa_pipelines.defs.synthesis.assets import build_synthesis
from linkqa_pipelines.defs.verification.assets import build_verification
from linkqa_pipelines.defs.verification.config import VERIFY_ENV, VERIFY_LLM_ENV, VerifierResource
from linkqa_pipelines.defs.walks import checks as walk_checks
from linkqa_pipelines.defs.walks.assets import walk_paths
from linkqa_pipelines.lib.io_manager import LakeIOManager
from linkqa_pipelines.lib.lake_resource import LakeResource
from linkqa_pipelines.lib.llm_resource import LLM_ENV, LLM_FLOAT_FIELDS, LLM_INT_FIELDS, LLMResource
from linkqa_pipelines.lib.metadata import standard_asset
from linkqa_pipelines.lib.model_stage import ModelPlacement
from linkqa_pipelines.settings import env_fields, executor_choice

LAKE_ENV = {"home": "LINKQA_HOME", "lake_root": "LINKQA_LAKE_ROOT"}
INPUTS_ENV = {
    "seeds": "LINKQA_SEEDS",
    "benchmarks": "LINKQA_BENCHMARKS",
    "difficulty_targets": "LINKQA_DIFFICULTY_TARGETS",
}


def bind_resources(
    *,
    env: Mapping[str, str] | None = None,
    llm: Mapping[str, Any] | None = None,
    home: str | None = None,
) -> dict[str, Any]:
    """The resources, bound to the `env` variables that are set (default: the process environment);
    `llm` settings and `home` given here win over them (the CLI's flags, tests)."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (llm or {}).items() if v is not None}
    lake = LakeResource(**(env_fields(LAKE_ENV, env=env) | ({"home": home} if home else {})))
    llm_fields = env_fields(LLM_ENV, LLM_INT_FIELDS, env=env, floats=LLM_FLOAT_FIELDS) | overrides
    verifier = LLMResource(**(llm_fields | env_fields(VERIFY_LLM_ENV, env=env)))  # the generator unless overridden
    return {
        "lake": lake,
        "io_manager": LakeIOManager(lake_resource=lake),
        "llm": LLMResource(**llm_fields),
        "verify": VerifierResource(llm=verifier, **env_fields(VERIFY_ENV, frozenset(VERIFY_ENV), env=env)),
        "inputs": PipelineInputs(**env_fields(INPUTS_ENV, env=env)),
        "s3": S3Resource(),
    }


def run_executor(env: Mapping[str, str]) -> ExecutorDefinition | None:
    """The executor of every job: Dagster's default, or one Kubernetes Job per step with
    `LINKQA_EXECUTOR=k8s` (the code server and the run pods read the same setting, from the
    `linkqa-env` ConfigMap, so the run executes with the executor the UI showed)."""
    if executor_choice(env) != "k8s":
        return None
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError as exc:
        raise ImportError("LINKQA_EXECUTOR=k8s needs the `k8s` extra: pip install 'linkqa-pipelines[k8s]'") from exc
    return k8s_job_executor


def build_definitions(
    *,
    env: Mapping[str, str] | None = None,
    llm: Mapping[str, Any] | None = None,
    home: str | None = None,
    resources: Mapping[str, Any] | None = None,
) -> Definitions:
    """All definitions. Model-backed steps are placed by the LLM settings of `env` and `llm`;
    `resources` replaces any bound resource."""
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (llm or {}).items() if v is not None}
    placement = ModelPlacement.from_settings(LLMSettings.from_env(env, **overrides))
    verifier = {f: env[v].strip() for f, v in VERIFY_LLM_ENV.items() if f != "api_key_env" and env.get(v, "").strip()}
    verify_placement = ModelPlacement.from_settings(LLMSettings.from_env(env, **(overrides | verifier)))
    bound = bind_resources(env=env, llm=llm, home=home) | dict(resources or {})
    pipeline = [
        ingest_seeds,
        seed_qa,
        build_kp_extraction(placement),
        kp_catalog,
        kp_graph,
        walk_paths,
        build_synthesis(placement),
        build_verification(verify_placement),
        build_difficulty(placement),
        benchmark_items,
        screened_qa,
        linkqa_dataset,
        linkqa_release,
    ]
    assets = [*map(standard_asset, pipeline)]
    return Definitions(
        assets=[*assets, run_failures_spec],
        asset_checks=[
            *load_asset_checks_from_modules([seed_checks, walk_checks, release_checks]),
            *contract_checks(assets),
        ],
        jobs=JOBS,
        sensors=SENSORS,
        resources=bound,
        executor=run_executor(env),
    )


@definitions
def defs() -> Definitions:
    return build_definitions()
