"""English KP merges (`core.knowledge_points.en_merge`): abbreviations a text defines and
irregular plurals merge, explained in `kp_aliases`; neighbours, hypernyms and ambiguous short
forms stay apart."""

from __future__ import annotations

import polars as pl

from linkqa_pipelines.core.knowledge_points import build_catalog


def links(rows: list[tuple[str, str, str]]) -> pl.DataFrame:
    """(discipline, kp_name, kp_description) rows, one seed each."""
    return pl.DataFrame(
        {
            "seed_id": [f"s{i:02d}" for i in range(len(rows))],
            "discipline": [r[0] for r in rows],
            "kp_name": [r[1] for r in rows],
            "kp_description": [r[2] for r in rows],
        }
    )


def kp_count(frame: pl.DataFrame, *names: str) -> int:
    """Number of distinct KPs the names fall into."""
    return frame.filter(pl.col("kp_name").is_in(names))["kp_id"].n_unique()


def test_defined_abbreviations_and_irregular_plurals_merge_explained() -> None:
    result = build_catalog(
        links(
            [
                (
                    "economics",
                    "gross domestic product",
                    "macroeconomics: … affect real gross domestic product ( GDP ) and …",
                ),
                ("economics", "GDP", "macroeconomics: What was GDP per capita in …"),
                ("statistics", "SRS", "statistics: A simple random sample ( SRS )"),
                ("statistics", "simple random sample", "statistics: … weighs a simple random sample of seven tablets"),
                ("psychology", "PKU", "psychology: PKU ( phenylketonuria )"),
                ("psychology", "phenylketonuria", "medical genetics: phenylketonuria ."),
                ("biology", "viruses", "biology: … viruses …"),
                ("biology", "virus", "biology: … a virus …"),
                ("biology", "atria", "anatomy: … both atria contract …"),
                ("biology", "atrium", "anatomy: … the right atrium …"),
            ]
        )
    )
    for pair in [("GDP", "gross domestic product"), ("SRS", "simple random sample"), ("PKU", "phenylketonuria")]:
        assert kp_count(result.links, *pair) == 1, pair
    assert kp_count(result.links, "viruses", "virus") == 1
    assert kp_count(result.links, "atria", "atrium") == 1
    rules = {r["alias"]: (r["rule"], r["matched_key"]) for r in result.aliases.iter_rows(named=True)}
    assert "abbreviation" in (rules["GDP"][0], rules["gross domestic product"][0])
    assert rules["SRS"] == ("abbreviation", "simple random sample")
    assert rules["viruses"] == ("lemma", "virus")  # the re-spelt key "viruse" never names the KP
    assert result.catalog.filter(pl.col("name") == "virus").height == 1
    assert rules["atria"] == ("lemma", "atrium")


def test_neighbours_hypernyms_and_ambiguous_short_forms_stay_apart() -> None:
    """Kinetic energy is not energy, capital is not assets (the wrong merges a looser rule would
    make); a parenthesis naming a hypernym is no definition; CS is defined twice (two meanings);
    an acronym with matching initials but no defining text is not merged; AP is used in physics,
    where its economics long form never occurs; IDS in capitals is no plural of "id"."""
    rows = [
        ("physics", "kinetic energy", "physics: … the kinetic energy ( KE ) of …"),
        ("physics", "energy", "physics: … total energy …"),
        ("economics", "capital", "economics: … capital ( assets ) …"),
        ("economics", "assets", "economics: … total assets …"),
        ("clinical_medicine", "heroin", "clinical: … heroin ( opiate ) …"),
        ("clinical_medicine", "opiate", "clinical: … an opiate …"),
        ("psychology", "CS", "psychology: … the conditioned stimulus ( CS ) …"),
        ("psychology", "conditioned stimulus", "psychology: … a conditioned stimulus …"),
        ("business_management", "CS", "business: … customer service ( CS ) …"),
        ("business_management", "customer service", "business: … customer service …"),
        ("mathematics", "CB", "math: … CB …"),
        ("mathematics", "chocolate bar", "math: … a chocolate bar …"),
        ("economics", "AP", "economics: … average product ( AP ) …"),
        ("economics", "average product", "economics: … average product …"),
        ("physics", "AP", "physics: … AP …"),
        ("computer_science", "IDS", "security: … an IDS …"),
        ("computer_science", "id", "security: … the id …"),
    ]
    result = build_catalog(links(rows))
    assert result.catalog.height == len({r[1].lower() for r in rows})
    assert (result.aliases["rule"] == "exact_key").all()
