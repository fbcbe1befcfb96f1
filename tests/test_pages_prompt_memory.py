"""The Zero-shot page keeps a user's unsaved prompt edits while they visit another page, and
says which prompts the text tower reads only the start of."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow

EDITOR = "zs-f-saved: visited"


def test_prompt_edits_survive_a_visit_to_another_page(app, data_root) -> None:
    from model.prompts import DEFAULT_PROMPTS

    (data_root / "prompts").mkdir(exist_ok=True)
    (data_root / "prompts" / "visited.yaml").write_text(DEFAULT_PROMPTS.read_text())
    at = app("pages/zeroshot.py")
    at.selectbox(key="zs-source").select("saved: visited").run()
    at.session_state[EDITOR] = {
        "edited_rows": {0: {"positive": "Severely reduced LVEF"}},
        "added_rows": [],
        "deleted_rows": [],
    }
    at.text_input(key="zs-try-name").input("trial").run()
    at.text_input(key="zs-try-pos").input("Dilated left ventricle").run()
    at.text_input(key="zs-try-neg").input("Normal left ventricular size").run()
    at.text_input(key="zs-save-name").input("edited").run()
    edited = at.code[0].value
    assert "Severely reduced LVEF" in edited and "trial:" in edited

    at.switch_page("pages/browser.py").run()
    at.switch_page("pages/zeroshot.py").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="zs-source").value == "saved: visited"
    assert at.text_input(key="zs-try-pos").value == "Dilated left ventricle"
    assert at.text_input(key="zs-save-name").value == "edited"
    assert at.code[0].value == edited  # the table edit and the trial finding, as left
    at.text_input(key="zs-try-neg").input("Normal LV size").run()  # editing on from there
    assert "Severely reduced LVEF" in at.code[0].value and "Normal LV size" in at.code[0].value
    (data_root / "prompts" / "visited.yaml").unlink()


def test_a_prompt_past_the_text_towers_length_is_named_as_cut(app) -> None:
    long = "Late gadolinium enhancement " + "of the basal inferolateral wall " * 8
    at = app("pages/zeroshot.py")
    at.text_input(key="zs-try-pos").input(long).run()
    at.text_input(key="zs-try-neg").input("No late gadolinium enhancement").run()
    assert not at.exception and not at.error
    warnings = [w.value for w in at.warning if "word pieces" in w.value]
    assert len(warnings) == 1 and long.strip() in warnings[0]
    assert "No late gadolinium enhancement" not in warnings[0]


def test_a_prompt_in_a_script_the_text_tower_lacks_is_named_with_its_unknown_words(app) -> None:
    """MiniLM's vocabulary is English: 左心室扩大 reads as [UNK] 心 [UNK] [UNK] 大, and its
    scores looked as plausible as any others."""
    at = app("pages/zeroshot.py")
    at.text_input(key="zs-try-pos").input("左心室扩大").run()
    at.text_input(key="zs-try-neg").input("Normal left ventricular size").run()
    assert not at.exception and not at.error
    warnings = [w.value for w in at.warning if "unknown token" in w.value]
    assert len(warnings) == 1 and "“左心室扩大” (左 室 扩)" in warnings[0], warnings
    assert "Normal left ventricular size" not in warnings[0]


def test_an_edit_being_fixed_keeps_the_last_valid_sets_scores_on_the_page(app) -> None:
    """An invalid edit (here a negative wording typed as the positive one, on the way to its
    own) emptied the page below the editor: scores, tables and the save tab vanished until it
    was fixed."""
    at = app("pages/zeroshot.py")
    assert "Per-study probabilities" in [h.value for h in at.subheader]
    at.text_input(key="zs-try-name").input("my_finding").run()
    at.text_input(key="zs-try-pos").input("Dilated left ventricle").run()
    at.text_input(key="zs-try-neg").input("Dilated left ventricle").run()
    assert not at.exception
    assert len(at.error) == 1 and "my_finding" in at.error[0].value
    assert any("last valid prompt set" in c.value for c in at.caption)
    assert "Per-study probabilities" in [h.value for h in at.subheader]
    assert not any(b.label == "Save to data root" for b in at.button)  # not the broken set
    at.text_input(key="zs-try-neg").input("Normal left ventricular size").run()
    assert not at.error and any(b.label == "Save to data root" for b in at.button)


def test_the_wording_reader_stays_on_across_a_visit_and_a_retyped_wording(app) -> None:
    """The toggle is drawn only once both wordings are filled; restored with the editor's other
    values at the top of the page, it came back off after a visit to another page."""
    at = app("pages/zeroshot.py")
    at.text_input(key="zs-try-pos").input("Thickened septum").run()
    at.text_input(key="zs-try-neg").input("Normal wall thickness").run()
    at.toggle(key="zs-read").set_value(True).run()
    at.switch_page("pages/browser.py").run()
    at.switch_page("pages/zeroshot.py").run()
    assert not at.exception and not at.error
    assert at.toggle(key="zs-read").value is True
    at.text_input(key="zs-try-neg").input("").run()
    assert not [t for t in at.toggle if t.key == "zs-read"]
    at.text_input(key="zs-try-neg").input("Normal septum").run()
    assert at.toggle(key="zs-read").value is True
