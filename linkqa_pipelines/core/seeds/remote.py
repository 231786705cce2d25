"""Bring `s3://` seed sources onto local disk so every adapter reads plain files.

Objects are cached under a local folder keyed by bucket/key and re-downloaded only when
their ETag changes, so re-materializing a partition does not pay for the transfer again.
The client is any boto3-compatible S3 client (dagster-aws's `S3Resource.get_client()`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

SUPPORTED_SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")


class RemoteSourceError(RuntimeError):
    """An `s3://` source could not be listed or downloaded."""


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise RemoteSourceError(f"{uri}: not an s3://bucket/key URI")
    return parsed.netloc, parsed.path.lstrip("/")


def list_s3_objects(client: Any, uri: str) -> list[dict[str, Any]]:
    """The supported objects under a URI (a key or a prefix), by key, as `list_objects_v2` describes
    them (`Key`, `ETag`, `Size`, ...); none is an error naming the URI."""
    bucket, prefix = split_s3_uri(uri)
    try:
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        objects: list[dict[str, Any]] = [o for page in pages for o in page.get("Contents", [])]
    except Exception as exc:  # boto3 raises many types; name the source either way
        raise RemoteSourceError(f"{uri}: cannot list objects ({type(exc).__name__}: {exc})") from exc
    wanted = sorted((o for o in objects if str(o["Key"]).lower().endswith(SUPPORTED_SUFFIXES)), key=lambda o: o["Key"])
    if not wanted:
        raise RemoteSourceError(f"{uri}: no {'/'.join(SUPPORTED_SUFFIXES)} objects found")
    return wanted


def fetch_s3_sources(client: Any, uris: Sequence[str], cache_dir: Path) -> list[Path]:
    """Download every supported object under each URI (a key or a prefix); return local paths."""
    local: list[Path] = []
    for uri in uris:
        bucket, _ = split_s3_uri(uri)
        for obj in list_s3_objects(client, uri):
            target = cache_dir / bucket / obj["Key"]
            stamp = target.with_name(target.name + ".etag")
            etag = json.dumps(obj.get("ETag"))
            if not (target.exists() and stamp.exists() and stamp.read_text() == etag):
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    client.download_file(bucket, obj["Key"], str(target))
                except Exception as exc:
                    raise RemoteSourceError(f"s3://{bucket}/{obj['Key']}: download failed ({exc})") from exc
                stamp.write_text(etag)
            local.append(target)
    return local
