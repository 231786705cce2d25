"""Settings of `qa_verification`: who answers the keyless votes and refinements, and how many.

A resource rather than run config because its values come from the environment
(`LINKQA_VERIFY_K`, `LINKQA_VERIFY_ROUNDS`, and the verifier endpoint: `LINKQA_VERIFY_MODEL`,
`LINKQA_VERIFY_BASE_URL`, `LINKQA_VERIFY_API_KEY_ENV`), bound by the definitions; unset, the
verifier is the generation model. The second endpoint's key is read from the environment
variable named by `LINKQA_VERIFY_API_KEY_ENV`, never held in a field.
"""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field

from linkqa_pipelines.lib.llm_resource import LLMResource

VERIFY_ENV = {"k": "LINKQA_VERIFY_K", "rounds": "LINKQA_VERIFY_ROUNDS"}
VERIFY_LLM_ENV = {
    "model": "LINKQA_VERIFY_MODEL",
    "base_url": "LINKQA_VERIFY_BASE_URL",
    "api_key_env": "LINKQA_VERIFY_API_KEY_ENV",
}


class VerifierResource(ConfigurableResource):
    """The verifier model (an LLM resource: the generation model's settings unless overridden)
    and the vote's size."""

    llm: LLMResource
    # no pydantic bounds: an EnvVar.int validates as 0 before it resolves; verify_items checks them
    k: int = Field(default=3, description="LINKQA_VERIFY_K: keyless answers per item and round (>= 1)")
    rounds: int = Field(default=2, description="LINKQA_VERIFY_ROUNDS: refine/regenerate rounds before failed (>= 0)")
