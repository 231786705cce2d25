"""The one partitioning every per-discipline asset shares, and how assets run several keys at once.

Partitions exist only where seeds are: `discipline_partitions` is dynamic, its keys are the
taxonomy disciplines that have seeds. Ingestion registers them (`register_disciplines`, which
also drops disciplines whose seeds are gone, so their stale tables leave the release); a sensor
that sees new seed files asks for them with `partition_requests`. A discipline without seeds is
therefore never scheduled and never shown as a green empty partition.

One run can take many partitions (a single-run backfill over a key range, or `linkqa run`):
`per_discipline` turns an asset body written for one discipline into one that loops over
`context.partition_keys`, hands the body each discipline's rows of its partitioned inputs and a
context whose `partition_key` is that discipline, scopes the body's metadata (and row counts) to
that partition, and concatenates the outputs, which the IO manager splits again by discipline.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import polars as pl
from dagster import (
    AddDynamicPartitionsRequest,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    DagsterInstance,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
)
from sqlalchemy.exc import IntegrityError

from linkqa_pipelines.taxonomy import load_taxonomy

DISCIPLINE_PARTITIONS = "discipline"
discipline_partitions = DynamicPartitionsDefinition(name=DISCIPLINE_PARTITIONS)

# One run per backfill: a per-discipline step is cheap next to a run's start-up (imports, instance,
# resources, events), and a run of every seeded discipline (29 in the taxonomy) fits in memory: each
# body sees one discipline's rows, only the outputs of all are held until the step ends (a few hundred
# MB for 100k seeds). A model request that fails is recorded in llm_failures, not raised, so one
# discipline's bad answers do not fail the others' partitions.
discipline_backfill_policy = BackfillPolicy.single_run()

R = TypeVar("R")
T = TypeVar("T")
SPLIT_COLUMN = "discipline"
PROGRESS_LOGGER = "linkqa_pipelines.progress"
"""Each discipline a step finishes is logged here (`extra`: linkqa_step, linkqa_partition) at INFO,
for a progress display in the process that runs it (`linkqa run`); silent unless someone listens."""


def seeded_disciplines(disciplines: Iterable[str]) -> list[str]:
    """The given discipline ids in taxonomy order; an id the taxonomy does not know is an error."""
    known = load_taxonomy().discipline_ids
    wanted = set(disciplines)
    unknown = sorted(wanted - set(known))
    if unknown:
        raise ValueError(f"not taxonomy disciplines: {unknown} (partition keys are taxonomy discipline ids)")
    return [d for d in known if d in wanted]


def partition_requests(
    registered: Sequence[str], seeded: Iterable[str], *, prune: bool = False
) -> list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest]:
    """Requests that add the seeded disciplines not yet registered and, with `prune` (the caller
    knows every seed, as ingestion does), delete registered ones that no longer have seeds. A
    sensor returns them in `SensorResult(dynamic_partitions_requests=...)`."""
    wanted = seeded_disciplines(seeded)
    add = [d for d in wanted if d not in registered]
    drop = [d for d in registered if d not in wanted] if prune else []
    requests: list[AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest] = []
    if add:
        requests.append(AddDynamicPartitionsRequest(DISCIPLINE_PARTITIONS, add))
    if drop:
        requests.append(DeleteDynamicPartitionsRequest(DISCIPLINE_PARTITIONS, drop))
    return requests


@dataclass(frozen=True)
class PartitionChange:
    added: list[str]
    removed: list[str]


def register_disciplines(instance: DagsterInstance, seeded: Iterable[str], *, prune: bool = False) -> PartitionChange:
    """Apply `partition_requests` on the instance: the partitions become the seeded disciplines.

    Another process may register the same keys at the same time (two runs ingesting on one
    home): a key it added first is then no longer added here, instead of failing the run."""
    wanted = list(seeded)
    change = PartitionChange([], [])
    for request in partition_requests(instance.get_dynamic_partitions(DISCIPLINE_PARTITIONS), wanted, prune=prune):
        if isinstance(request, AddDynamicPartitionsRequest):
            change.added.extend(_add_partitions(instance, list(request.partition_keys)))
        else:
            for key in request.partition_keys:
                instance.delete_dynamic_partition(DISCIPLINE_PARTITIONS, key)
            change.removed.extend(request.partition_keys)
    return change


def _add_partitions(instance: DagsterInstance, keys: list[str]) -> list[str]:
    """Add `keys`, skipping any that a concurrent writer added between the read and the insert."""
    while keys:
        try:
            instance.add_dynamic_partitions(DISCIPLINE_PARTITIONS, keys)
            return keys
        except IntegrityError:
            present = set(instance.get_dynamic_partitions(DISCIPLINE_PARTITIONS))
            if not present & set(keys):
                raise  # not a concurrent registration: the insert fails for another reason
            keys = [k for k in keys if k not in present]
    return keys


def registered_disciplines(instance: DagsterInstance) -> list[str]:
    """The partition keys in their stored order (the order a key range runs over)."""
    return list(instance.get_dynamic_partitions(DISCIPLINE_PARTITIONS))


def key_ranges(registered: Sequence[str], wanted: Iterable[str]) -> list[list[str]]:
    """The wanted keys as runs of neighbours in the stored order: one run per range (a single
    range when every registered discipline is wanted)."""
    chosen = set(wanted)
    ranges: list[list[str]] = []
    previous = False
    for key in registered:
        if key in chosen and previous:
            ranges[-1].append(key)
        elif key in chosen:
            ranges.append([key])
        previous = key in chosen
    return ranges


def range_tags(keys: Sequence[str]) -> dict[str, str]:
    """Run tags that make one run take `keys` (neighbours in the stored order, see `key_ranges`),
    as a single-run backfill does; `execute_in_process` has no partition-range argument."""
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}


class DisciplineContext(AssetExecutionContext):
    """The run's context seen by one discipline's body: `partition_key` is that discipline and
    output metadata lands on that partition's materialization, not on every partition's.

    The metadata is gathered and handed to Dagster once per output (`flush`, with the row
    count): each call validates the key against the instance's dynamic partitions."""

    def __init__(self, context: AssetExecutionContext, key: str, step_cache: dict[str, Any] | None = None) -> None:
        super().__init__(context.op_execution_context)
        self._run_context = context
        self._key = key
        self._gathered: dict[AssetKey, dict[str, Any]] = {}
        self.step_cache = step_cache  # shared by the disciplines of a multi-discipline step

    @property
    def partition_key(self) -> str:
        return self._key

    @property
    def partition_keys(self) -> Sequence[str]:
        return [self._key]

    @property
    def has_partition_key(self) -> bool:
        return True

    def add_output_metadata(
        self, metadata: Mapping[str, Any], output_name: str | None = None, mapping_key: str | None = None
    ) -> None:
        del mapping_key  # per-discipline assets have no dynamic outputs
        keys = self.assets_def.keys_by_output_name
        asset_key = keys[output_name] if output_name is not None else next(iter(keys.values()))
        self._gathered.setdefault(asset_key, {}).update(metadata)

    def flush(self, output: Any) -> None:
        """The body's metadata and each output frame's row count, on this partition."""
        frames = output if isinstance(output, tuple) else (output,)
        for asset_key, frame in zip(self.assets_def.keys_by_output_name.values(), frames, strict=True):
            metadata = self._gathered.pop(asset_key, {})
            if isinstance(frame, pl.DataFrame):
                metadata["dagster/row_count"] = frame.height
            if metadata:
                _add_partition_metadata(self._run_context, asset_key, self._key, metadata)


def _add_partition_metadata(
    context: AssetExecutionContext, asset_key: AssetKey, key: str, metadata: Mapping[str, Any]
) -> None:
    """What `context.add_asset_metadata(metadata, asset_key, partition_key=key)` does, minus its check
    that `key` is in the run: that check reads the dynamic partitions from the instance on every call
    (measured 70-300 ms a call on the loaded 2-core machine, and a full run makes over a thousand),
    while `key` here is always one of the run's own keys. Falls back to the public call if Dagster's
    step context ever stops keeping the accumulator the public call fills."""
    step: Any = context.op_execution_context._step_execution_context  # pyright: ignore[reportPrivateUsage]
    accumulator = getattr(step, "_metadata_accumulator", None)
    if accumulator is None:
        context.add_asset_metadata(metadata, asset_key=asset_key, partition_key=key)
        return
    step._metadata_accumulator = accumulator.with_additional_asset_metadata(
        asset_key=asset_key, metadata=metadata, partition_key=key
    )


class _DisciplineLog(logging.Filter):
    """On the step's log while it runs several disciplines: every log line is a stored event, so
    the bodies' info lines are gathered into one (`summary`); warnings and errors still go out
    at once, with the discipline in front."""

    def __init__(self) -> None:
        super().__init__()
        self.key = ""
        self.lines: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "dagster_event", None) is not None:
            return True
        message = f"[{self.key}] {record.getMessage()}"
        if record.levelno < logging.WARNING:
            self.lines.append(message)
            return False
        record.msg, record.args = message, ()
        return True

    def summary(self) -> str:
        return "\n".join(self.lines)


def _partitioned_inputs(context: AssetExecutionContext, names: Iterable[str]) -> set[str]:
    layer = context.job_def.asset_layer
    found: set[str] = set()
    for name in names:
        try:
            key = context.asset_key_for_input(name)
        except Exception:  # not an asset input (config, resources)
            continue
        if layer.has(key) and layer.get(key).is_partitioned:
            found.add(name)
    return found


def _rows_of(value: Any, key: str) -> Any:
    if isinstance(value, pl.DataFrame | pl.LazyFrame):
        return value.filter(pl.col(SPLIT_COLUMN) == key)
    return value


def _concat(outputs: Sequence[Any]) -> Any:
    """One output per position, every discipline's frames stacked (their schemas agree)."""
    if isinstance(outputs[0], tuple):
        return tuple(_concat([o[i] for o in outputs]) for i in range(len(outputs[0])))
    return pl.concat(outputs, how="vertical_relaxed")


def once_per_step(context: AssetExecutionContext, name: str, make: Callable[[], T]) -> Callable[[], T] | None:
    """In a step that runs several disciplines: a getter of `make()`, computed on first use and then
    shared by them all (work on an unpartitioned input that each discipline would repeat). None in
    a one-discipline step, where there is nothing to share."""
    cache = context.step_cache if isinstance(context, DisciplineContext) else None
    if cache is None:
        return None

    def get() -> T:
        if name not in cache:
            cache[name] = make()
        return cast(T, cache[name])

    return get


def _run_one(
    body: Callable[..., R],
    context: AssetExecutionContext,
    key: str,
    args: Any,
    inputs: Any,
    step_cache: dict[str, Any] | None = None,
) -> R:
    view = DisciplineContext(context, key, step_cache)
    output = body(view, *args, **inputs)
    view.flush(output)
    step = context.op_execution_context.op.name
    logging.getLogger(PROGRESS_LOGGER).info(
        "%s [%s] done", step, key, extra={"linkqa_step": step, "linkqa_partition": key}
    )
    return output


def per_discipline(body: Callable[..., R]) -> Callable[..., R]:
    """Run an asset body written for one discipline over every partition key of the run.

    The body's partitioned inputs are cut to the discipline's rows (their `discipline` column);
    unpartitioned LazyFrame inputs are read once and shared. With one key the body runs as is."""

    @functools.wraps(body)
    def run(context: AssetExecutionContext, *args: Any, **inputs: Any) -> R:
        keys = list(context.partition_keys)
        if len(keys) == 1:
            return _run_one(body, context, keys[0], args, inputs)
        split = _partitioned_inputs(context, inputs)
        shared = {
            n: v.collect().lazy() if isinstance(v, pl.LazyFrame) and n not in split else v for n, v in inputs.items()
        }
        log = _DisciplineLog()
        context.log.addFilter(log)
        outputs: list[Any] = []
        step_cache: dict[str, Any] = {}
        try:
            for key in keys:
                log.key = key
                sliced = {n: _rows_of(v, key) if n in split else v for n, v in shared.items()}
                outputs.append(_run_one(body, context, key, args, sliced, step_cache))
        finally:
            context.log.removeFilter(log)
        if log.lines:
            context.log.info(f"{len(keys)} disciplines:\n{log.summary()}")
        return _concat(outputs)

    return run
