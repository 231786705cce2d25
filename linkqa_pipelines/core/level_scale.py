"""The 1-5 difficulty scale, worded once (English, Chinese) for every prompt that names a level.

The judge rates items on it and synthesis asks a model for items at a level on it, so a requested
level and a judged level mean the same thing. A level names an item's hardest demand, not how
many parts it has: recalling two linked facts is still recall (level 1), as the offline
composition rule (`core.difficulty.composition`) scores a conjunction of recall parts. An
earlier wording put "two concepts" at level 3, which made every item fused from two seeds
level 3 or above by definition and the targets' levels 1-2 unreachable for LinkSyn items.
"""

from __future__ import annotations

LEVEL_SCALE: dict[str, str] = {
    "en": (
        "1 = recall of facts or definitions, however many are linked; 2 = one concept applied in one step; "
        "3 = a few routine steps, or concepts combined in one inference; 4 = multi-step reasoning across "
        "concepts; 5 = competition or graduate level"
    ),
    "zh": (
        "1 = 记忆事实或定义（无论串联几个）；2 = 一步运用一个概念；3 = 几个常规步骤，或在一次推理中结合多个概念；"
        "4 = 跨概念的多步推理；5 = 竞赛或研究生水平"
    ),
}
