"""Column contracts shared by every stage.

Each stage writes exactly these columns (extra columns are allowed after them), so
downstream stages, the DuckDB views and users' own queries can rely on them. The
schemas are Polars dtypes; `empty_frame(SCHEMA)` gives a typed empty table for
partitions that have no rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import polars as pl
import pyarrow as pa

SEED_SCHEMA: dict[str, pl.DataType] = {
    "seed_id": pl.String(),  # stable hash of source + question + choices
    "source": pl.String(),  # file path or URI the row came from
    "source_row": pl.Int64(),  # 1-based data row number in that source
    "adapter": pl.String(),  # mmlu_csv | cmmlu_csv | gsm8k_jsonl | math_jsonl | generic
    "subject": pl.String(),
    "discipline": pl.String(),
    "language": pl.String(),  # en | zh | other
    "qa_type": pl.String(),  # multiple_choice | free_form
    "question": pl.String(),
    "choices": pl.List(pl.String()),  # null for free-form
    "answer": pl.String(),  # choice letter for multiple choice, final answer otherwise
    "explanation": pl.String(),  # worked solution when the source has one
    "ref_difficulty": pl.Int8(),  # human difficulty 1-5 when the source has one (MATH level)
}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.String(),
    "source_row": pl.Int64(),
    "field": pl.String(),
    "reason": pl.String(),
    "raw": pl.String(),  # the offending row, truncated, for inspection
}

KP_LINK_SCHEMA: dict[str, pl.DataType] = {
    "seed_id": pl.String(),
    "discipline": pl.String(),
    "kp_rank": pl.Int16(),  # 0 = most central KP of the seed
    "kp_name": pl.String(),
    "kp_description": pl.String(),
    "grade_level": pl.String(),
    "difficulty": pl.Int8(),  # 1-5
    "backend": pl.String(),  # offline | openai | vllm
    "model": pl.String(),
}

KP_CATALOG_SCHEMA: dict[str, pl.DataType] = {
    "kp_id": pl.String(),  # stable: "kp_" + hash of the canonical key
    "node": pl.Int32(),  # dense 0..n-1 index used by graph arrays
    "name": pl.String(),
    "description": pl.String(),
    "aliases": pl.List(pl.String()),
    "disciplines": pl.List(pl.String()),
    "popularity": pl.Int64(),  # number of seeds linked to the KP
}

PATH_SCHEMA: dict[str, pl.DataType] = {
    "path_id": pl.String(),
    "discipline": pl.String(),
    "kp_ids": pl.List(pl.String()),
    "seed_ids": pl.List(pl.String()),
    "score": pl.Float64(),
}

SYNTH_QA_SCHEMA: dict[str, pl.DataType] = {
    "qa_id": pl.String(),
    "path_id": pl.String(),
    "discipline": pl.String(),
    "language": pl.String(),
    "qa_type": pl.String(),
    "question": pl.String(),
    "choices": pl.List(pl.String()),
    "answer": pl.String(),
    "rationale": pl.String(),
    "kp_ids": pl.List(pl.String()),
    "seed_ids": pl.List(pl.String()),
    "difficulty": pl.Int8(),
    "requested_level": pl.Int8(),  # the level a model was asked to write at (null offline or when none was asked)
    "backend": pl.String(),
    "model": pl.String(),
    "prompt_tokens": pl.Int64(),
    "completion_tokens": pl.Int64(),
    "verification": pl.String(),  # verified | refined | failed | unverified (see core/verification)
    "agreement": pl.Float64(),  # share of the keyless answers naming the key; null when none was given
}


def empty_frame(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """A typed, zero-row frame: empty partitions still carry the contract's columns."""
    return pl.DataFrame(schema=schema)


def conform(df: pl.DataFrame, schema: dict[str, pl.DataType]) -> pl.DataFrame:
    """Cast to the contract and put its columns first; fails loudly on a missing column."""
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise ValueError(f"frame is missing contract columns {missing}")
    extra = [c for c in df.columns if c not in schema]
    return df.select([pl.col(c).cast(t) for c, t in schema.items()] + extra)


def list_column(values: np.ndarray | pl.Series, offsets: np.ndarray) -> pl.Series:
    """A list column whose row i is values[offsets[i]:offsets[i + 1]], assembled by Arrow from
    the flat values (no Python loop, no copy of the values)."""
    flat = cast(Any, values.to_arrow() if isinstance(values, pl.Series) else pa.array(values))  # pyarrow: untyped
    return pl.Series(values=cast(Any, pa.LargeListArray.from_arrays(pa.array(offsets, pa.int64()), flat)))


@dataclass(frozen=True)
class GraphArrays:
    """The KP graph in CSR form, what samplers work on.

    Nodes are `kp_catalog.node` indices. The graph is undirected and stored with both
    directions, so `indices[indptr[u]:indptr[u+1]]` are u's neighbours (sorted) and
    `strength` the matching edge strengths (co-occurrence weight, > 0).
    """

    indptr: np.ndarray  # int64, shape (n + 1,)
    indices: np.ndarray  # int32, shape (2 * m,)
    strength: np.ndarray  # float64, shape (2 * m,)
    popularity: np.ndarray  # float64, shape (n,), seed count per KP

    @property
    def n_nodes(self) -> int:
        return int(self.indptr.shape[0] - 1)

    @classmethod
    def from_edges(
        cls, n: int, src: np.ndarray, dst: np.ndarray, weight: np.ndarray, popularity: np.ndarray
    ) -> GraphArrays:
        """CSR of undirected edges given once each (both directions stored, neighbours sorted per
        node by one multithreaded Polars sort of a packed key). Edges are taken as they are:
        `kp_graph` builds them from a group-by, `walks.graph_arrays_from_edges` checks them first."""
        u = np.concatenate([src, dst]).astype(np.int64)
        v = np.concatenate([dst, src]).astype(np.int64)
        order = pl.Series(u * max(n, 1) + v).arg_sort().to_numpy()
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
        strength = np.concatenate([weight, weight]).astype(np.float64)[order]
        return cls(indptr=indptr, indices=v[order].astype(np.int32), strength=strength, popularity=popularity)
