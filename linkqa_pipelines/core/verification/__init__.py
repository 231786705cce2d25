"""Pure logic of the verification stage (no Dagster): each QA answered k times without its key,
the answers voted against the key, and the items that lose repaired or failed.

- `vote`: `build_verification_requests(items, k, round)` -> k keyless `ChatRequest`s per item
  (distinct sampling seeds), `VERIFY_TASK` (offline it abstains, so every item stays
  `unverified`: the offline backend never marks anything verified), `tally` (the status and
  agreement of one vote) and `consensus` (the answer a majority gave instead);
- `repair`: refine (the verifier re-derives answer and rationale, R1-generate / V3-refine) and
  regenerate (the generator writes a new item from the path) tasks;
- `rounds`: `verify_items`, the rounds and the rule choosing refine or regenerate (see its
  docstring), the table contracts `QA_VERIFICATION_SCHEMA` and `VOTES_SCHEMA`, and
  `verification_summary` (the rates reported per discipline), `combine_outcomes` (accounting).
"""

from linkqa_pipelines.core.verification.repair import REFINE_TASK, REGENERATE_TASK
from linkqa_pipelines.core.verification.rounds import (
    QA_VERIFICATION_SCHEMA,
    VOTES_SCHEMA,
    Ask,
    VerificationRun,
    combine_outcomes,
    verification_summary,
    verify_items,
)
from linkqa_pipelines.core.verification.vote import (
    OFFLINE_VERIFY_MODEL,
    VERIFICATIONS,
    VERIFY_TASK,
    Verification,
    build_verification_requests,
    canonical,
    consensus,
    tally,
)

__all__ = [
    "OFFLINE_VERIFY_MODEL",
    "QA_VERIFICATION_SCHEMA",
    "REFINE_TASK",
    "REGENERATE_TASK",
    "VERIFICATIONS",
    "VERIFY_TASK",
    "VOTES_SCHEMA",
    "Ask",
    "Verification",
    "VerificationRun",
    "build_verification_requests",
    "canonical",
    "combine_outcomes",
    "consensus",
    "tally",
    "verification_summary",
    "verify_items",
]
