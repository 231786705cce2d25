"""Pure logic of the knowledge_points stage (no Dagster): extract KPs per seed, build the KP catalog."""

from linkqa_pipelines.core.knowledge_points.catalog import build_catalog, canonical_keys
from linkqa_pipelines.core.knowledge_points.keyphrases import OFFLINE_MODEL, extract_keyphrases
from linkqa_pipelines.core.knowledge_points.lexicon import EXTRACTION_STOP_WORDS
from linkqa_pipelines.core.knowledge_points.prompts import (
    DISCIPLINES,
    GRADE_LEVELS,
    KP_EXTRACTION_SCHEMA,
    build_kp_messages,
    discipline_agreement,
    kp_links_from_answers,
    validate_kp_answer,
)
from linkqa_pipelines.core.knowledge_points.seed_difficulty import seed_grade_and_difficulty

__all__ = [
    "DISCIPLINES",
    "EXTRACTION_STOP_WORDS",
    "GRADE_LEVELS",
    "KP_EXTRACTION_SCHEMA",
    "OFFLINE_MODEL",
    "build_catalog",
    "build_kp_messages",
    "canonical_keys",
    "discipline_agreement",
    "extract_keyphrases",
    "kp_links_from_answers",
    "seed_grade_and_difficulty",
    "validate_kp_answer",
]
