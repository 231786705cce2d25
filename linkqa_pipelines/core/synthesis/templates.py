"""Language-specific wording (English, Chinese) of the synthesis prompt and of offline
compositions, and the renderings of seed items that prompts and compositions share.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from linkqa_pipelines.core.synthesis.answers import LETTERS, resolve_choice


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
    one: str  # what the prompt asks for when k = 1
    many: str  # "{k}" -> what it asks for when k > 1
    distinct: str  # "... nor repeat another one" when k > 1
    no_level: str  # the difficulty requirement when no level is asked for
    one_level: str  # "{level}", "{scale}" -> the requirement when one item is asked for at a level
    many_levels: str  # "{levels}", "{scale}" -> the requirement when k items are, item by item
    retry: str  # "{avoid}", "{reason}" -> the note of a request that replaces rejected items
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
        "Write {count} fusing the knowledge of the path: solving a question must require combining "
        "at least two of the knowledge points above, from different seed questions (ideally all, in a chain of "
        "reasoning), not just one of them. No question may be a rewording of a seed question{distinct}.\n"
        "Requirements:\n"
        "- self-contained, unambiguous, factually correct, with exactly one correct answer;\n"
        "- {difficulty_rule}\n"
        "- {format_rule}\n"
        "- write the question, choices, answer and rationale in English;\n"
        "- rationale: a concise step-by-step solution naming the knowledge points it uses;\n"
        "- kp_names_used: the names of the knowledge points the question uses, copied exactly from the path;\n"
        "- seeds_used: the numbers of the seed questions whose knowledge it combines (at least two).\n"
        "{retry}\n"
        'Reply with one JSON object only, {k} item(s) in "items":\n'
        '{{"items": [{{"question": "...", "qa_type": "{qa_type}", "choices": {choices_example}, "answer": "...", '
        '"rationale": "...", "kp_names_used": ["...", "..."], "seeds_used": [1, 2]}}]}}'
    ),
    one="ONE new question",
    many="{k} new questions",
    distinct=", nor repeat another of your questions",
    no_level="at least as difficult as the hardest seed;",
    one_level="difficulty level {level} on this scale: {scale} (easier than the seeds where that level is lower);",
    many_levels=(
        "difficulty levels {levels}, item by item in that order, on this scale: {scale} (easier than the seeds "
        "where a level is lower);"
    ),
    retry=(
        "\nEarlier questions for this path were rejected ({reason}); write new ones. Questions kept for this "
        "path (yours must be different):\n{avoid}\n"
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
        "请编写{count}，融合这条路径上的知识：每道题都必须综合运用上面至少两个来自不同种子题的知识点"
        "（最好全部，形成推理链），而不是只考其中一个；也不得是任何种子题的改写{distinct}。\n"
        "要求：\n"
        "- 题目自洽、无歧义、科学准确，且只有一个正确答案；\n"
        "- {difficulty_rule}\n"
        "- {format_rule}\n"
        "- 题目、选项、答案和解析均使用中文；\n"
        "- rationale：简洁的分步解析，并指明用到的知识点；\n"
        "- kp_names_used：题目用到的知识点名称，须与路径中的名称完全一致；\n"
        "- seeds_used：题目所融合的种子题编号（至少两个）。\n"
        "{retry}\n"
        '只输出一个 JSON 对象，"items" 中恰好 {k} 道题：\n'
        '{{"items": [{{"question": "...", "qa_type": "{qa_type}", "choices": {choices_example}, "answer": "...", '
        '"rationale": "...", "kp_names_used": ["...", "..."], "seeds_used": [1, 2]}}]}}'
    ),
    one="一道全新的题目",
    many="{k}道全新的题目",
    distinct="，各题之间也不得重复",
    no_level="难度不低于最难的种子题；",
    one_level="难度为 {level} 级，量表：{scale}（该级低于种子题时，题目应比种子题容易）；",
    many_levels="各题难度依次为 {levels} 级，量表：{scale}（某级低于种子题时，该题应比种子题容易）；",
    retry="\n该路径先前的题目未通过检查（{reason}），请重新编写。该路径已保留以下题目（新题须与之不同）：\n{avoid}\n",
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
