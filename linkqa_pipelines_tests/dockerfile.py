"""infra/Dockerfile read as instructions, for the tests that check it and the one that replays it."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "infra" / "Dockerfile"


def dockerfile_instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    joined: list[str] = []
    pending = ""
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        joined.append(pending + stripped)
        pending = ""
    assert not pending, f"{path.name} ends inside a continued line"
    return [(ins.split(None, 1)[0].upper(), ins.split(None, 1)[1]) for ins in joined]


def image_env(instructions: list[tuple[str, str]]) -> dict[str, str]:
    """The variables the `ENV` instructions set (`ENV A=1 B=2` form only, as the Dockerfile uses)."""
    env: dict[str, str] = {}
    for kind, args in instructions:
        if kind == "ENV":
            for pair in shlex.split(args):
                name, eq, value = pair.partition("=")
                assert eq, f"ENV {pair!r}: use the NAME=value form"
                env[name] = value
    return env


def image_user(instructions: list[tuple[str, str]]) -> tuple[int, int]:
    """(uid, gid) of the numeric `USER uid:gid` the image runs as."""
    (user,) = [args for kind, args in instructions if kind == "USER"]
    uid, _, gid = user.partition(":")
    return int(uid), int(gid or uid)


def runs_as_user(instructions: list[tuple[str, str]]) -> list[str]:
    """The shell commands of the `RUN`s after `USER`: what the image executes as its own user."""
    kinds = [kind for kind, _ in instructions]
    user_at = kinds.index("USER")
    return [args for kind, args in instructions[user_at:] if kind == "RUN"]


def image_cmd(instructions: list[tuple[str, str]]) -> list[str]:
    """The exec-form `CMD`."""
    (cmd,) = [args for kind, args in instructions if kind == "CMD"]
    return json.loads(cmd)
