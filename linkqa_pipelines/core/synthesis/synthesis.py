"""LinkSyn synthesis: one new QA per knowledge-point path, from the seeds linked along it.

The task follows the LLM-layer pattern shared by every model-backed stage:
- `build_synthesis_requests(paths, seeds, kps)` -> plain request pieces (key, messages,
  schema, schema_name, params, payload) the caller wraps into `ChatRequest`s;
- `offline_synthesis(payloads)` -> answers in the same JSON shape a model returns, computed
  without a model (see its docstring for what it can and cannot do);
- `validate_synthesis(payload, answer)` -> reason to reject an answer, or None;
- `synthesized_frame(payloads, answers, meta)` -> SYNTH_QA_SCHEMA rows.

The prompt targets reasoning models (DeepSeek-R1 style): everything is in one user message,
since R1's guidance is to use no system prompt, and the answer is a JSON object whose
reasoning lives in the model's own reasoning channel plus a short `rationale`.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from linkqa_pipelines.core.contracts import SYNTH_QA_SCHEMA, conform
from linkqa_pipelines.core.release.dedup import jaccard_to_each, normalize_texts
from linkqa_pipelines.core.language import language_of

OFFLINE_SYNTH_MODEL = "offline-template-v1"
LETTERS = "ABCDEFGHIJ"
MAX_EXPLANATION_CHARS = 2000  # per seed in the prompt: long worked solutions add cost, not signal
COPY_JACCARD = 0.8  # char 5-gram Jaccard above which a question counts as a copy
# SamplingParams fields: DeepSeek's recommended R1 sampling, room for its reasoning plus the JSON answer.
R1_PARAMS: dict[str, Any] = {"temperature": 0.6, "top_p": 0.95, "max_tokens": 8192}

QaType = Literal["multiple_choice", "free_form"]
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")

SYNTH_ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string"},
        "qa_type": {"type": "string", "enum": ["multiple_choice", "free_form"]},
        "choices": {"type": ["array", "null"], "items": {"type": "string"}},
        "answer": {"type": "string"},
        "rationale": {"type": "string"},
        "kp_names_used": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["question", "qa_type", "choices", "answer", "rationale", "kp_names_used"],
    "additionalProperties": False,
}


# --- shared QA answer helpers (also used by difficulty enhancement) ---------------------


def qa_id(path_id: str, question: str) -> str:
    """Stable id of a synthesized QA: same path and question text -> same id."""
    return "qa_" + hashlib.sha256(f"{path_id}\x1f{question}".encode()).hexdigest()[:20]


def resolve_choice(answer: str, choices: Sequence[str]) -> int | None:
    """Index of the choice an answer names: a letter ("B", "(B)", "B.") or the choice text."""
    text = answer.strip()
    m = re.fullmatch(r"\(?([A-Ja-j])\)?[.:)]?", text)
    if m:
        idx = LETTERS.index(m.group(1).upper())
        return idx if idx < len(choices) else None
    norm_answer, *norm_choices = normalize_texts([text, *choices])
    return norm_choices.index(norm_answer) if norm_answer in norm_choices else None


def clean_choices(choices: Sequence[str]) -> list[str]:
    """Choices stripped, and without "A." / "(B)" prefixes when every option carries its own
    letter in order (models often add them despite being asked not to)."""
    stripped = [c.strip() for c in choices]
    prefix = [re.match(rf"\(?{LETTERS[i]}[.:)）．、]\)?\s*", c) for i, c in enumerate(stripped[: len(LETTERS)])]
    if stripped and len(stripped) <= len(LETTERS) and all(prefix):
        return [c[m.end() :].strip() for c, m in zip(stripped, prefix, strict=True)]  # type: ignore[union-attr]
    return stripped


def check_qa_answer(
    answer: Mapping[str, Any],
    *,
    language: str,
    qa_type: QaType | None,
    n_choices: int | None,
    kp_names: Sequence[str],
    copies_of: Sequence[str] = (),
) -> str | None:
    """Reasons a generated QA is unusable, shared by synthesis and enhancement.

    Checks types and non-empty fields, the requested qa_type, choices (distinct, the
    requested count) and that the answer names one of them, the script of the question
    (en/zh), that at least two of the path's knowledge points (all, on a one-KP path) are
    claimed as used, and that the question is not a copy of any text in `copies_of`.
    """
    for field in ("question", "answer", "rationale"):
        value = answer.get(field)
        if not isinstance(value, str) or not value.strip():
            return f"field {field!r} is missing or empty"
    got_type = answer.get("qa_type")
    if got_type not in ("multiple_choice", "free_form"):
        return f"qa_type {got_type!r} is not multiple_choice or free_form"
    if qa_type is not None and got_type != qa_type:
        return f"qa_type is {got_type}, {qa_type} was requested"
    choices = answer.get("choices")
    if got_type == "multiple_choice":
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            return "multiple_choice answer needs a list of choice strings"
        choices = clean_choices(choices)
        if not all(choices):
            return "a choice is empty"
        if len(choices) < 2 or (n_choices is not None and len(choices) != n_choices):
            return f"{len(choices)} choices given, {n_choices or 'at least 2'} required"
        if len(set(normalize_texts(choices))) != len(choices):
            return "choices are not distinct"
        if resolve_choice(answer["answer"], choices) is None:
            return f"answer {answer['answer']!r} is not one of the choices A-{LETTERS[len(choices) - 1]}"
    elif choices:
        return "free_form answer must have choices null"
    # Without any Han character a question cannot be Chinese: skip the full script count.
    found = language_of(answer["question"]) if _HAN.search(answer["question"]) else "not zh"
    if language == "zh" and found != "zh":
        return f"question is not in Chinese (script looks {found})"
    if language == "en" and found == "zh":
        return "question is in Chinese, English was expected"
    used = answer.get("kp_names_used")
    if not isinstance(used, list) or not all(isinstance(u, str) for u in used):
        return "kp_names_used must be a list of strings"
    path_names = {n.casefold().strip() for n in kp_names}
    n_used = len(path_names & {u.casefold().strip() for u in used})
    if n_used < min(2, len(path_names)):
        return f"uses {n_used} of the path's knowledge points, at least {min(2, len(path_names))} required"
    for i, similarity in enumerate(jaccard_to_each(answer["question"], copies_of), start=1):
        if similarity > COPY_JACCARD:
            return f"question copies seed {i} (char 5-gram Jaccard {similarity:.2f} > {COPY_JACCARD})"
    return None


def answer_columns(answer: Mapping[str, Any]) -> dict[str, Any]:
    """The QA columns of a validated answer; multiple-choice answers become the choice letter."""
    choices = clean_choices(answer["choices"]) if answer["qa_type"] == "multiple_choice" else None
    text = answer["answer"].strip()
    if choices is not None:
        idx = resolve_choice(text, choices)
        if idx is None:
            raise ValueError(f"answer {text!r} names none of the choices {choices}: validate answers first")
        text = LETTERS[idx]
    return {
        "qa_type": answer["qa_type"],
        "question": answer["question"].strip(),
        "choices": choices,
        "answer": text,
        "rationale": answer["rationale"].strip(),
    }


# --- templates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """Language-specific wording of prompts and offline compositions."""

    arrow: str
    sep: str  # between answer parts
    colon: str
    links: str  # "{path}" -> heading of a composed question
    part: str  # "{i}" -> label of part i
    ask_all: str
    ask_mc: str  # question line of a composed multiple-choice item
    path_line: str  # "{path}" -> first rationale line
    seed_answer: str  # "{answer}" -> rationale when a seed has no explanation
    prompt: str  # the synthesis prompt, see `synthesis_messages`
    mc_rule: str  # "{n}" -> format rule for multiple choice
    ff_rule: str
    seed_block: str  # "{i}", "{question}", "{choices}", "{answer}", "{explanation}"
    kp_line: str  # "{i}", "{name}", "{description}"

    def answer_format(self, qa_type: str, n_choices: int) -> dict[str, str]:
        """The prompt fields that fix the answer's shape (`format_rule`, `qa_type`, `choices_example`):
        one definition for every prompt that asks for a QA as JSON (synthesis, enhancement)."""
        mc = qa_type == "multiple_choice"
        return {
            "format_rule": self.mc_rule.format(n=n_choices) if mc else self.ff_rule,
            "qa_type": qa_type,
            "choices_example": '["...", "...", "...", "..."]' if mc else "null",
        }

    def stated(self, answer: str) -> str:
        """Rationale sentence for an item without explanation: "The answer is <answer>."."""
        return self.seed_answer.format(answer=answer.rstrip(".。 "))


EN = Template(
    arrow=" -> ",
    sep="; ",
    colon=": ",
    links="This question links {path}.",
    part="Part {i}",
    ask_all="Give the answers to all parts.",
    ask_mc="Which option gives the correct answers to all parts, in order?",
    path_line="Knowledge path: {path}.",
    seed_answer="The answer is {answer}.",
    prompt=(
        'You write exam questions for the discipline "{discipline}".\n\n'
        "Below is a path of knowledge points from a knowledge graph, in order, and seed questions "
        "linked along that path.\n\n"
        "Knowledge path:\n{kps}\n\n"
        "Seed questions (they show the level and style; do NOT copy, paraphrase or translate them):\n{seeds}\n\n"
        "Write ONE new question that fuses the knowledge of the path: solving it must require "
        "combining at least two of the knowledge points above (ideally all, in a chain of reasoning), "
        "not just one of them. It must not be a rewording of any seed question.\n"
        "Requirements:\n"
        "- self-contained, unambiguous, factually correct, with exactly one correct answer;\n"
        "- at least as difficult as the hardest seed;\n"
        "- {format_rule}\n"
        "- write the question, choices, answer and rationale in English;\n"
        "- rationale: a concise step-by-step solution naming the knowledge points it uses;\n"
        "- kp_names_used: the names of the knowledge points the question uses, copied exactly from the path.\n\n"
        "Reply with one JSON object only:\n"
        '{{"question": "...", "qa_type": "{qa_type}", "choices": {choices_example}, "answer": "...", '
        '"rationale": "...", "kp_names_used": ["...", "..."]}}'
    ),
    mc_rule=(
        'multiple choice: exactly {n} options in "choices" (plain text, no letters), plausible distractors, '
        '"answer" is the letter of the correct option (A, B, ...);'
    ),
    ff_rule='free form: "choices" is null and "answer" is the short final answer (a value, term or statement);',
    seed_block="[Seed {i}]\nQuestion: {question}\n{choices}Answer: {answer}\nExplanation: {explanation}",
    kp_line="{i}. {name}: {description}",
)

ZH = Template(
    arrow=" → ",
    sep="；",
    colon="：",
    links="本题串联以下知识点：{path}。",
    part="第{i}部分",
    ask_all="请给出所有部分的答案。",
    ask_mc="以下哪一项按顺序给出了所有部分的正确答案？",
    path_line="知识路径：{path}。",
    seed_answer="答案为{answer}。",
    prompt=(
        "你是“{discipline}”学科的命题专家。\n\n"
        "下面给出知识图谱中按顺序排列的一条知识点路径，以及沿该路径关联的种子题。\n\n"
        "知识点路径：\n{kps}\n\n"
        "种子题（仅用于说明难度与风格；不得照抄、改写或翻译）：\n{seeds}\n\n"
        "请编写一道全新的题目，融合这条路径上的知识：解题必须综合运用上面至少两个知识点"
        "（最好全部，形成推理链），而不是只考其中一个；也不得是任何种子题的改写。\n"
        "要求：\n"
        "- 题目自洽、无歧义、科学准确，且只有一个正确答案；\n"
        "- 难度不低于最难的种子题；\n"
        "- {format_rule}\n"
        "- 题目、选项、答案和解析均使用中文；\n"
        "- rationale：简洁的分步解析，并指明用到的知识点；\n"
        "- kp_names_used：题目用到的知识点名称，须与路径中的名称完全一致。\n\n"
        "只输出一个 JSON 对象：\n"
        '{{"question": "...", "qa_type": "{qa_type}", "choices": {choices_example}, "answer": "...", '
        '"rationale": "...", "kp_names_used": ["...", "..."]}}'
    ),
    mc_rule=(
        '单项选择题："choices" 中恰好 {n} 个选项（纯文本，不带字母），干扰项要合理，'
        '"answer" 为正确选项的字母（A、B……）；'
    ),
    ff_rule='问答题："choices" 为 null，"answer" 为简短的最终答案（数值、术语或结论）；',
    seed_block="【种子题{i}】\n题目：{question}\n{choices}答案：{answer}\n解析：{explanation}",
    kp_line="{i}. {name}：{description}",
)

TEMPLATES: dict[str, Template] = {"en": EN, "zh": ZH}


def template_for(language: str) -> Template:
    """Chinese wording for zh, English for everything else."""
    return TEMPLATES.get(language, EN)


def render_choices(choices: Sequence[str] | None) -> str:
    """Inline options: "(A) x  (B) y"."""
    return "  ".join(f"({LETTERS[i]}) {c}" for i, c in enumerate(choices or ()))


def render_item(item: Mapping[str, Any]) -> str:
    """A question with its options inline, as it appears inside a composed question."""
    options = render_choices(item.get("choices"))
    return f"{item['question'].strip()}\n{options}" if options else item["question"].strip()


def answer_text(item: Mapping[str, Any]) -> str:
    """A seed's answer as text: "(B) <choice>" for multiple choice, the answer otherwise."""
    choices = item.get("choices")
    if choices:
        idx = resolve_choice(item["answer"], choices)
        if idx is None:
            raise ValueError(f"answer {item['answer']!r} names none of the choices of {item.get('seed_id', item)}")
        return f"({LETTERS[idx]}) {choices[idx]}"
    return item["answer"].strip()


# --- requests ---------------------------------------------------------------------------


def request_piece(
    key: str,
    payload: Mapping[str, Any],
    messages: Callable[[Mapping[str, Any]], tuple[dict[str, str], ...]],
    schema: Mapping[str, Any],
    schema_name: str,
) -> dict[str, Any]:
    """One request in the plain form the stage assets wrap into the LLM layer's ChatRequest."""
    return {
        "key": key,
        "messages": messages(payload),
        "schema": schema,
        "schema_name": schema_name,
        "params": dict(R1_PARAMS),
        "payload": payload,
    }


def build_synthesis_requests(
    paths: pl.DataFrame,
    seeds: pl.DataFrame,
    kps: pl.DataFrame,
    *,
    qa_type: QaType | Literal["auto"] = "auto",
    n_choices: int = 4,
    max_seeds: int = 5,
) -> list[dict[str, Any]]:
    """One request per path (PATH_SCHEMA) with its KPs (kp_catalog: kp_id, name, description)
    and its first `max_seeds` seeds (SEED_SCHEMA).

    qa_type "auto" asks for multiple choice when most of the path's seeds are multiple
    choice, free form otherwise. The language is the majority language of the seeds (ties:
    the first seed's). A path with fewer than 2 seeds, or naming a seed or KP that is not
    given, is a broken walk output and raises with the path ids.
    """
    if not 2 <= n_choices <= len(LETTERS):
        raise ValueError(f"n_choices must be in 2..{len(LETTERS)}, got {n_choices}")
    short = paths.filter(pl.col("seed_ids").list.len() < 2)
    if short.height:
        raise ValueError(f"paths with fewer than 2 seeds cannot be synthesized: {short['path_id'].head(10).to_list()}")
    kp_rows = (
        paths.select("path_id", "kp_ids")
        .with_columns(kp_pos=pl.int_ranges(pl.col("kp_ids").list.len()))
        .explode("kp_ids", "kp_pos")
        .rename({"kp_ids": "kp_id"})
        .join(kps.select("kp_id", "name", "description"), on="kp_id", how="left")
    )
    seed_rows = (
        paths.select("path_id", pl.col("seed_ids").list.head(max_seeds))
        .with_columns(seed_pos=pl.int_ranges(pl.col("seed_ids").list.len()))
        .explode("seed_ids", "seed_pos")
        .rename({"seed_ids": "seed_id"})
        .join(
            seeds.select("seed_id", "language", "qa_type", "question", "choices", "answer", "explanation"),
            on="seed_id",
            how="left",
        )
    )
    for what, frame, id_col, probe in (("KPs", kp_rows, "kp_id", "name"), ("seeds", seed_rows, "seed_id", "question")):
        missing = frame.filter(pl.col(probe).is_null())
        if missing.height:
            pairs = missing.select("path_id", id_col).head(10).rows()
            raise ValueError(f"{missing.height} path {what} are not in the given {what} table, e.g. {pairs}")
    grouped = (
        paths.select("path_id", "discipline")
        .join(
            kp_rows.sort("path_id", "kp_pos")
            .group_by("path_id", maintain_order=True)
            .agg(kp_ids=pl.col("kp_id"), kp_names=pl.col("name"), kp_descriptions=pl.col("description").fill_null("")),
            on="path_id",
            maintain_order="left",
        )
        .join(
            seed_rows.sort("path_id", "seed_pos")
            .group_by("path_id", maintain_order=True)
            .agg(seeds=pl.struct("seed_id", "language", "qa_type", "question", "choices", "answer", "explanation")),
            on="path_id",
            maintain_order="left",
        )
    )
    requests = []
    for row in grouped.iter_rows(named=True):
        seed_list = row.pop("seeds")
        for s in seed_list:
            if s["choices"]:
                answer_text(s)  # raises on a seed whose answer letter names no choice
        languages = Counter(s["language"] for s in seed_list)
        top = max(languages.values())
        language = next(s["language"] for s in seed_list if languages[s["language"]] == top)
        n_mc = sum(s["qa_type"] == "multiple_choice" for s in seed_list)
        wanted = qa_type if qa_type != "auto" else ("multiple_choice" if 2 * n_mc > len(seed_list) else "free_form")
        payload = {
            "task": "synthesis",
            **row,
            "seed_ids": [s["seed_id"] for s in seed_list],
            "language": language,
            "qa_type": wanted,
            "n_choices": n_choices if wanted == "multiple_choice" else None,
            "seeds": seed_list,
        }
        requests.append(
            request_piece(f"synthesis:{row['path_id']}", payload, synthesis_messages, SYNTH_ANSWER_SCHEMA, "linkqa_synthesis")
        )
    return requests


def synthesis_messages(payload: Mapping[str, Any]) -> tuple[dict[str, str], ...]:
    """The chat messages of a synthesis payload: a single user turn (no system prompt, per R1 guidance)."""
    t = template_for(payload["language"])
    kps = "\n".join(
        t.kp_line.format(i=i, name=name, description=desc or "-").rstrip()
        for i, (name, desc) in enumerate(zip(payload["kp_names"], payload["kp_descriptions"], strict=True), start=1)
    )
    seeds = "\n\n".join(
        t.seed_block.format(
            i=i,
            question=s["question"].strip(),
            choices="".join(f"{LETTERS[j]}. {c}\n" for j, c in enumerate(s["choices"] or ())),
            answer=s["answer"],
            explanation=(s["explanation"] or "-").strip()[:MAX_EXPLANATION_CHARS],
        )
        for i, s in enumerate(payload["seeds"], start=1)
    )
    shape = t.answer_format(payload["qa_type"], payload["n_choices"])
    content = t.prompt.format(discipline=payload["discipline"], kps=kps, seeds=seeds, **shape)
    return ({"role": "user", "content": content},)


# --- offline algorithm ------------------------------------------------------------------


def offline_synthesis(payloads: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Template composition (model label `OFFLINE_SYNTH_MODEL`): deterministic, no model.

    It composes, it does not invent: the question strings the path's seed questions together
    as numbered parts under a heading naming the KP path; the answer is the seeds' answers in
    order ("Part 1: (B) <choice>; Part 2: 42"); the rationale is the path plus each seed's
    explanation (or its answer, when it has none). Chinese wording for zh paths. When
    multiple choice is requested it builds a composite item: the options are answer
    combinations, the correct one plus distractors that swap one multiple-choice part's
    answer for a wrong option of that part (two parts, if one-part swaps run out), placed
    by a hash of the path id. With no multiple-choice seed there are no honest distractors:
    the free-form composition is returned and validation rejects it as the wrong type.
    Every row made this way is a recombination of existing questions; its value is in
    linking them, not in new knowledge, and the dataset card says so.
    """
    return [_compose(p) for p in payloads]


def _compose(payload: Mapping[str, Any]) -> dict[str, Any]:
    t = template_for(payload["language"])
    seeds = payload["seeds"]
    path = t.arrow.join(payload["kp_names"])
    parts = "\n".join(f"{t.part.format(i=i)}{t.colon}{render_item(s)}" for i, s in enumerate(seeds, start=1))
    answers = [answer_text(s) for s in seeds]
    rationale = "\n".join(
        [t.path_line.format(path=path)]
        + [
            f"{t.part.format(i=i)}{t.colon}{(s['explanation'] or '').strip() or t.stated(a)}"
            for i, (s, a) in enumerate(zip(seeds, answers, strict=True), start=1)
        ]
    )
    combined = t.sep.join(f"{t.part.format(i=i)}{t.colon}{a}" for i, a in enumerate(answers, start=1))
    common = {"rationale": rationale, "kp_names_used": list(payload["kp_names"])}
    mc_parts = [i for i, s in enumerate(seeds) if s["choices"]]
    if payload["qa_type"] != "multiple_choice" or not mc_parts:
        question = f"{t.links.format(path=path)}\n{parts}\n{t.ask_all}"
        return {"question": question, "qa_type": "free_form", "choices": None, "answer": combined, **common}
    options = _composite_options(payload, mc_parts, t)
    correct = int(hashlib.sha256(payload["path_id"].encode()).hexdigest(), 16) % (len(options) + 1)
    options.insert(correct, combined)
    return {
        "question": f"{t.links.format(path=path)}\n{parts}\n{t.ask_mc}",
        "qa_type": "multiple_choice",
        "choices": options,
        "answer": LETTERS[correct],
        **common,
    }


def _composite_options(payload: Mapping[str, Any], mc_parts: list[int], t: Template) -> list[str]:
    """n_choices - 1 wrong answer combinations, fewest changed parts first, hash-ordered."""
    seeds = payload["seeds"]
    correct = [resolve_choice(s["answer"], s["choices"]) if s["choices"] else None for s in seeds]
    wrong_options = {i: [j for j in range(len(seeds[i]["choices"])) if j != correct[i]] for i in mc_parts}
    candidates: list[tuple[int, str, tuple[tuple[int, int], ...]]] = []
    for n_changed in (1, 2):
        for changed in itertools.combinations(mc_parts, n_changed):
            for picks in itertools.product(*(wrong_options[i] for i in changed)):
                swap = tuple(zip(changed, picks, strict=True))
                rank = hashlib.sha256(f"{payload['path_id']}|{swap}".encode()).hexdigest()
                candidates.append((n_changed, rank, swap))
    candidates.sort()
    options = []
    for _, _, swap in candidates[: payload["n_choices"] - 1]:
        chosen = dict(swap)
        texts = [
            answer_text({**s, "answer": LETTERS[chosen[i]]}) if i in chosen else answer_text(s)
            for i, s in enumerate(seeds)
        ]
        options.append(t.sep.join(f"{t.part.format(i=i)}{t.colon}{a}" for i, a in enumerate(texts, start=1)))
    return options


# --- validation and frame ---------------------------------------------------------------


def validate_synthesis(payload: Mapping[str, Any], answer: Mapping[str, Any]) -> str | None:
    """Reason to reject a synthesis answer (see `check_qa_answer`), or None."""
    return check_qa_answer(
        answer,
        language=payload["language"],
        qa_type=payload["qa_type"],
        n_choices=payload["n_choices"],
        kp_names=payload["kp_names"],
        copies_of=[s["question"] for s in payload["seeds"]],
    )


def synthesized_frame(
    payloads: Sequence[Mapping[str, Any]],
    answers: Sequence[Mapping[str, Any] | None],
    meta: Sequence[Mapping[str, Any] | object],
) -> pl.DataFrame:
    """SYNTH_QA_SCHEMA rows for the validated answers (None = failed request, skipped here:
    the LLM layer records its failure). `meta[i]` gives backend, model, prompt_tokens and
    completion_tokens of answer i. `difficulty` is null until the difficulty stage."""
    if not len(payloads) == len(answers) == len(meta):
        raise ValueError(f"payloads ({len(payloads)}), answers ({len(answers)}) and meta ({len(meta)}) must align")
    rows = [
        {
            "qa_id": qa_id(p["path_id"], a["question"].strip()),
            "path_id": p["path_id"],
            "discipline": p["discipline"],
            "language": p["language"],
            **answer_columns(a),
            "kp_ids": list(p["kp_ids"]),
            "seed_ids": list(p["seed_ids"]),
            "difficulty": None,
            **meta_columns(m),
        }
        for p, a, m in zip(payloads, answers, meta, strict=True)
        if a is not None
    ]
    return conform(pl.DataFrame(rows, schema=SYNTH_QA_SCHEMA), SYNTH_QA_SCHEMA)


def meta_columns(meta: Mapping[str, Any] | object) -> dict[str, Any]:
    """Provenance columns of one result — a mapping or an object with these attributes (an
    LLM-layer `ChatResult` works as is); backend and model are required, tokens default to 0."""

    def get(name: str) -> Any:
        return meta.get(name) if isinstance(meta, Mapping) else getattr(meta, name, None)

    missing = [k for k in ("backend", "model") if not get(k)]
    if missing:
        raise ValueError(f"result metadata lacks {missing}: every row must say which backend and model made it")
    return {
        "backend": get("backend"),
        "model": get("model"),
        "prompt_tokens": int(get("prompt_tokens") or 0),
        "completion_tokens": int(get("completion_tokens") or 0),
    }
