"""The reader's phrasebook: the many ways one impression statement is worded.

Real impressions state the same finding in dozens of forms: spelled out or abbreviated, with or
without the measurement, as a noun phrase ("Moderate LV dilatation") or a clause ("The left
ventricle is moderately dilated"), and the absence of a finding as a bare negation of the same words
("No left ventricular hypertrophy."). A corpus with only a few fixed sentences per finding never
shows a text encoder that "LV hypertrophy" and "No LV hypertrophy" differ, so each function here
returns every wording of one statement and the report writer picks one.

Each function takes the measured values and returns a tuple of complete sentences. Grades come as
an adverb ("mildly"); :func:`adjective` gives the noun-phrase form ("mild").
"""

from __future__ import annotations

from itertools import product

LV_NOUNS = ("LV", "left ventricle")
RV_NOUNS = ("RV", "right ventricle")
LV_ADJECTIVES = ("LV", "left ventricular")
RV_ADJECTIVES = ("RV", "right ventricular")


def adjective(grade: str) -> str:
    """``"mildly"`` -> ``"mild"``, ``"severely"`` -> ``"severe"``."""
    return grade.removesuffix("ly")


def _cap(sentence: str) -> str:
    return sentence[0].upper() + sentence[1:]


def _with_measure(clauses: tuple[str, ...], measures: tuple[str, ...]) -> tuple[str, ...]:
    """Every clause with every measurement form (one of which may be empty), as sentences."""
    return tuple(_cap(f"{clause}{measure}.") for clause, measure in product(clauses, measures))


def _dilated_clauses(
    grade: str, nouns: tuple[str, str], adjectives: tuple[str, str], cavity: bool
) -> tuple[str, ...]:
    """Dilatation of one ventricle as clauses; ``cavity`` adds the "dilatation of the" and
    "enlarged cavity" forms."""
    adj = adjective(grade)
    clauses = []
    for noun, adj_noun in zip(nouns, adjectives, strict=True):
        clauses += [f"{grade} dilated {noun}", f"the {noun} is {grade} dilated"]
        clauses.append(f"{adj} {adj_noun} dilatation")
        if cavity:
            clauses += [f"{adj} dilatation of the {noun}", f"{grade} enlarged {adj_noun} cavity"]
        clauses.append(f"dilated {noun}")
    return tuple(clauses)


def lv_dilated(grade: str, edd: int) -> tuple[str, ...]:
    clauses = _dilated_clauses(grade, LV_NOUNS, LV_ADJECTIVES, cavity=True)
    measures = (f" (LVEDD {edd} mm)", f", end-diastolic diameter {edd} mm", f" ({edd} mm)", "")
    return _with_measure(clauses, measures)


def lv_not_dilated(edd: int) -> tuple[str, ...]:
    return (
        "Normal LV size.",
        "LV cavity size within normal limits.",
        "The left ventricle is not dilated.",
        "No LV dilatation.",
        "No left ventricular dilatation.",
        "Non-dilated left ventricle.",
        "Normal left ventricular dimensions.",
        f"Normal LV cavity size (LVEDD {edd} mm).",
    )


def lv_impaired(grade: str, ef: int) -> tuple[str, ...]:
    adj = adjective(grade)
    clauses = tuple(
        clause
        for adj_noun in LV_ADJECTIVES
        for clause in (
            f"{grade} impaired {adj_noun} systolic function",
            f"{adj} {adj_noun} systolic dysfunction",
            f"{adj} {adj_noun} systolic impairment",
            f"{adj_noun} systolic function is {grade} reduced",
            f"{grade} reduced {adj_noun} ejection fraction",
        )
    )
    measures = (f" (LVEF {ef}%)", f", ejection fraction {ef}%", f", EF {ef}%", "")
    return (*_with_measure(clauses, measures), f"{_cap(grade)} reduced LVEF of {ef}%.")


def lv_borderline(ef: int) -> tuple[str, ...]:
    return (
        f"Borderline low-normal LV systolic function (LVEF {ef}%).",
        f"LVEF {ef}%, low normal; cannot exclude early systolic impairment.",
        f"Low-normal left ventricular ejection fraction of {ef}%.",
    )


def lv_normal_function(ef: int) -> tuple[str, ...]:
    clauses = tuple(
        clause
        for adj_noun in LV_ADJECTIVES
        for clause in (
            f"normal {adj_noun} systolic function",
            f"preserved {adj_noun} systolic function",
            f"good {adj_noun} systolic function",
            f"no {adj_noun} systolic dysfunction",
        )
    )
    measures = (f" (LVEF {ef}%)", f", EF {ef}%", "")
    return (
        *_with_measure(clauses, measures),
        f"Preserved LVEF ({ef}%).",
        f"Normal left ventricular ejection fraction of {ef}%.",
    )


def lv_hypertrophied(wall: int, septal: bool) -> tuple[str, ...]:
    """Half the wordings name the pattern (septal or concentric), half only the hypertrophy."""
    measures = (f", maximal wall thickness {wall} mm", f" ({wall} mm)", f" up to {wall} mm", "")
    plain = _with_measure(
        (
            "left ventricular hypertrophy",
            "LV hypertrophy",
            "increased LV wall thickness",
            "hypertrophied left ventricle",
            "hypertrophy of the left ventricle",
        ),
        measures,
    )
    if septal:
        patterned = (
            "asymmetric septal hypertrophy",
            "asymmetric LV hypertrophy of the septum",
            "asymmetric left ventricular hypertrophy, predominantly septal",
            "the interventricular septum is hypertrophied",
            "septal hypertrophy",
        )
    else:
        patterned = (
            "concentric LV hypertrophy",
            "concentric left ventricular hypertrophy",
            "concentric left ventricular wall thickening",
            "the LV walls are concentrically thickened",
            "LV hypertrophy with concentric wall thickening",
        )
    return plain + _with_measure(patterned, measures)


def lv_wall_normal(wall: int) -> tuple[str, ...]:
    return (
        "No LV hypertrophy.",
        "No left ventricular hypertrophy.",
        "Normal LV wall thickness.",
        "Normal left ventricular wall thickness.",
        f"Normal LV wall thickness (maximum {wall} mm).",
        "No increase in LV wall thickness.",
        f"Maximal wall thickness {wall} mm, within normal limits.",
    )


def _rv_impaired_clauses(grade: str) -> tuple[str, ...]:
    adj = adjective(grade)
    return tuple(
        clause
        for adj_noun in RV_ADJECTIVES
        for clause in (
            f"{grade} impaired {adj_noun} systolic function",
            f"{adj} {adj_noun} systolic dysfunction",
            f"reduced {adj_noun} ejection fraction",
        )
    )


def rv_statements(
    dilated: bool, impaired: bool, grades: tuple[str, str], edv: int, ef: int
) -> tuple[str, ...]:
    """The right ventricle in one sentence, for any combination of size and function.

    ``grades`` are the dilatation and dysfunction grades (adverbs, as for the LV)."""
    size_grade, function_grade = grades
    volume = (f" (RVEDV {edv} mL)", f", end-diastolic volume {edv} mL", "")
    if dilated and impaired:
        tails = (
            f" with impaired systolic function (RVEF {ef}%)",
            f", with {function_grade} impaired systolic function (RVEF {ef}%)",
            f"; reduced RVEF of {ef}%",
            " with systolic dysfunction",
        )
        return tuple(
            _cap(f"{clause}{tail}.")
            for clause, tail in product(
                _dilated_clauses(size_grade, RV_NOUNS, RV_ADJECTIVES, cavity=False), tails
            )
        )
    if dilated:
        tails = (" with preserved systolic function", f"; preserved RVEF ({ef}%)", "")
        return tuple(
            _cap(f"{clause}{measure}{tail}.")
            for clause, measure, tail in product(
                _dilated_clauses(size_grade, RV_NOUNS, RV_ADJECTIVES, cavity=False), volume, tails
            )
        )
    if impaired:
        measures = (f" (RVEF {ef}%)", f", RVEF {ef}%", "")
        return _with_measure(_rv_impaired_clauses(function_grade), measures)
    return (
        "Normal RV size and function.",
        "Normal right ventricular size and systolic function.",
        "The right ventricle is normal in size and function.",
        "No RV dilatation or dysfunction.",
        f"Normal RV volumes and systolic function (RVEF {ef}%).",
        "Normal right ventricle.",
        "Normal RV size.",
        "The right ventricle is not dilated.",
        "No right ventricular dilatation.",
        f"Preserved right ventricular systolic function (RVEF {ef}%).",
    )


def lge_absent() -> tuple[str, ...]:
    return (
        "No late gadolinium enhancement.",
        "No LGE.",
        "No myocardial LGE.",
        "No evidence of late gadolinium enhancement.",
        "No myocardial scar or fibrosis on LGE imaging.",
        "No LGE to suggest infarction or infiltration.",
        "No focal myocardial fibrosis or infarction.",
    )


def lge_infarct(transmural: bool, walls: str, territory: str, ischaemic: str) -> tuple[str, ...]:
    kind = "transmural" if transmural else "subendocardial"
    viability = "non-viable" if transmural else "viable"
    where = (f"of the {walls} ({territory} territory)", f"in the {territory} territory")
    what = ("LGE", "late gadolinium enhancement", "late enhancement")
    tails = (
        f", consistent with prior myocardial infarction; {viability} myocardium in this territory",
        f", in keeping with an old {ischaemic} infarct",
        f", {ischaemic} pattern",
    )
    return tuple(
        _cap(f"{kind} {noun} {place}{tail}.") for noun, place, tail in product(what, where, tails)
    )


def lge_non_ischaemic(pattern: str, septal_hcm: bool, ischaemic: str) -> tuple[str, ...]:
    """Subepicardial, diffuse subendocardial or mid-wall enhancement in a non-coronary pattern."""
    label = f"non-{ischaemic} pattern"
    if pattern == "subepicardial":
        return (
            "Subepicardial LGE of the basal to mid inferolateral wall.",
            "Patchy subepicardial late gadolinium enhancement in the inferolateral wall.",
            f"Subepicardial late enhancement of the lateral wall, {label}.",
            f"Inferolateral subepicardial LGE ({label}).",
        )
    if pattern == "diffuse_subendocardial":
        return (
            "Diffuse subendocardial LGE with abnormal myocardial nulling.",
            "Global subendocardial late enhancement; difficulty nulling the myocardium.",
            "Diffuse late gadolinium enhancement, subendocardial predominant.",
            "Extensive global LGE with a dark blood pool.",
        )
    if septal_hcm:
        return (
            "Patchy mid-wall LGE in the hypertrophied septum at the RV insertion points.",
            "Mid-wall late gadolinium enhancement at the RV insertion points.",
            "Patchy mid-myocardial LGE in the thickened septum.",
        )
    return (
        "Mid-wall septal LGE.",
        "Linear mid-wall enhancement of the septum.",
        f"Mid-wall LGE in the interventricular septum ({label}).",
        "Septal mid-wall late gadolinium enhancement.",
    )


def effusion_present(mm: int) -> tuple[str, ...]:
    size = "small" if mm < 10 else "moderate"
    return _with_measure(
        (
            f"{size} pericardial effusion",
            f"{size} circumferential pericardial effusion",
            f"there is a {size} pericardial effusion",
            f"pericardial effusion, {size}",
        ),
        (f" ({mm} mm)", f" measuring {mm} mm", f", maximal depth {mm} mm", ""),
    )


def effusion_trivial() -> tuple[str, ...]:
    return (
        "Trivial pericardial fluid, likely physiological.",
        "Physiological pericardial fluid only.",
    )


def effusion_absent() -> tuple[str, ...]:
    return (
        "No pericardial effusion.",
        "No significant pericardial effusion.",
        "Normal pericardium; no effusion.",
    )
