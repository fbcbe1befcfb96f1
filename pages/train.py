"""Train: launch runs from presets, watch live curves, stop / resume, choose the active checkpoint."""

import functools
from pathlib import Path

import streamlit as st

from dashboard import cache
from dashboard.context import EmptyState, Studio, UserError, rerun_page_if_choice_gone
from dashboard.demo_wait_view import caution_while_demo_builds
from dashboard.formatting import relative
from dashboard.glossary import meaning
from dashboard.gpus import gpus_output, resume_gpus, training_env
from dashboard.inert_text import markdown_text
from dashboard.job import Job
from dashboard.reader_clock import reader_zone
from dashboard.run_compare import comparison_figure, comparison_table, sweeps_of
from dashboard.run_dataset import trained_on
from dashboard.run_launch import plan_run, refusal_text
from dashboard.run_panel_view import SHOWN_RUN_KEY, RunPanel
from dashboard.run_selection import in_table_order, picked_now, shown_run, table_key
from dashboard.run_view import forget_notes, keep_notes, runs_columns
from dashboard.runs import (
    preset_names,
    read_metrics,
    resume_command,
    runs_table,
    suggested_run_name,
)
from dashboard.settings import position_of
from dashboard.studies import ROW_PICK_KEYS
from dashboard.sweep_view import extend_control, sweep_fields
from dashboard.train_form_view import start_from, training_form
from dashboard.ui import OWN_JOBS_KEY, job_panel, launch, page_guard, page_header

RUNS_PREPARED_KEY = "train-runs-prepared"
GONE_RUN_KEY = "train-gone-run"  # the run shown here that someone deleted, until another is picked
SWEEP_KEY = "train-compare-sweep"  # Compare runs: a sweep's runs, ranked
LAUNCHED_RUN_KEY = "train-launched-run"  # a run this session just launched or resumed: shown next
studio = Studio()
page_header(
    "Train",
    "Contrastive training runs: launch, watch live curves, stop, resume, pick the checkpoint.",
    words=("preset", "tower", "epoch", "batch", "learning rate", "InfoNCE loss", "val", "R@k")
    + ("AUC", "checkpoint", "gradient checkpointing", "micro-batches"),
)


def launch_form() -> None:
    datasets = studio.settings.datasets()
    if not datasets:
        raise EmptyState(
            "No dataset to train on",
            "Build the demo on Home or import studies.",
            page="pages/home.py",
            demo_step="ingest",
        )
    presets = preset_names()
    if not presets:
        raise EmptyState(
            "No presets installed", "model/presets/*.json is empty; reinstall the package."
        )
    gpus = cache.gpus()
    with st.expander("New training run", expanded=not studio.settings.runs()):
        caution_while_demo_builds(studio)
        top = st.columns(3)
        dataset = top[0].selectbox(
            "Dataset",
            datasets,
            index=position_of(studio.settings.active_dataset(), datasets),
            format_func=functools.partial(relative, root=studio.settings.data_root),
            key="train-dataset",  # keyed: the choice stays when someone imports a dataset
        )
        preset = top[1].selectbox(
            "Preset",
            presets,
            index=presets.index("cpu-small") if "cpu-small" in presets else 0,
            help=meaning("preset"),
        )
        # keyed, so a typed name is kept when the default's minute moves on; each prepared
        # run moves the key on, so the next run starts from a fresh default name
        launched = st.session_state.get(RUNS_PREPARED_KEY, 0)
        name = top[2].text_input(
            "Run name",
            value=suggested_run_name(preset),
            key=f"run-name-{preset}-{launched}",
        )
        start = start_from(studio.settings.runs(), studio.settings.data_root)
        sweep, grid_ok = sweep_fields()  # a bad grid: its error there, nothing launched
        form, chosen = training_form(dataset, name, preset, gpus, start, sweep)
        if form is not None and grid_ok:
            plan = plan_run(form, studio.settings.runs_dir, len(chosen))
            st.session_state[RUNS_PREPARED_KEY] = launched + 1
            outputs = plan.outputs(dataset, gpus_output(chosen))
            st.session_state[LAUNCHED_RUN_KEY] = str(plan.run)  # a sweep's first run
            # preset.json is written once no other run trains: of two launching one name at
            # once, the one refused writes none (dashboard.run_launch)
            kept = {"outputs": outputs, "env": training_env(chosen, gpus), "prepare": plan.write}
            refused = functools.partial(launch_refused, run=plan.run)
            launch(studio.jobs, "train", plan.command, plan.title, refused=refused, **kept)


def launch_refused(said: str, run: Path) -> None:
    """A refused launch (another training runs): said, and no run is shown as this session's."""
    st.session_state.pop(LAUNCHED_RUN_KEY, None)
    own = st.session_state.get(OWN_JOBS_KEY, ())  # the jobs this session started
    said = refusal_text(said, run, studio.jobs.list("train"), own)
    st.error(markdown_text(said), icon=":material/block:")


def resume(run: Path, job: Job | None, checkpointing: bool, micro_batches: int) -> None:
    """Launch a job continuing ``run`` on its own dataset and GPUs."""
    try:
        recorded = trained_on(run, studio.settings.data_root)
    except UserError as err:
        keep_notes(run, [("error", str(err))])
        return
    dataset = recorded or (
        Path(job.outputs["dataset"])
        if job and job.outputs.get("dataset")
        else studio.dataset_path()
    )
    gpus = resume_gpus(job, cache.gpus())
    st.session_state[LAUNCHED_RUN_KEY] = str(run)
    launch(
        studio.jobs,
        "train",
        resume_command(run, dataset, len(gpus), checkpointing, micro_batches),
        f"Resume {run.name}",
        outputs={"run": str(run), "dataset": str(dataset), "gpus": gpus_output(gpus)},
        env=training_env(gpus, cache.gpus()),
        refused=lambda said: keep_notes(run, [("error", said)]),
    )


@st.fragment(run_every=5.0)
def live_runs() -> None:
    rerun_page_if_choice_gone()
    with page_guard(studio):
        runs_section()


def runs_section() -> None:
    runs = in_table_order(studio.settings.runs())
    if not runs:
        st.info("No training runs yet. Launch one above (the demo build also trains one).")
        return
    zone = reader_zone()  # the job panel's, the runs' states' and Updated's: one zone
    table = runs_table(runs, studio.settings.data_root, studio.jobs.list("train"), zone)
    paths = list(table["path"])
    active = str(studio.settings.active_checkpoint() or "")
    # first: at 800 px the table scrolls sideways, and the active run's star was off-screen
    table.insert(0, "active", ["★" if active.startswith(p + "/") else "" for p in paths])
    st.caption(f"Select a run to see its curves and log below ({ROW_PICK_KEYS}).")
    event = st.dataframe(
        table.drop(columns=["path"]),
        hide_index=True,
        column_config=runs_columns(zone),
        on_select="rerun",
        selection_mode="single-row",
        key=table_key(paths),
    )
    rows = list(event.selection.rows) if event is not None else []
    remembered = st.session_state.get(SHOWN_RUN_KEY)
    if picked_now(st.session_state, table_key(paths), rows):  # wins over a run launched before
        st.session_state.pop(LAUNCHED_RUN_KEY, None)
    elif st.session_state.get(LAUNCHED_RUN_KEY) in paths:  # listed once its job has started:
        remembered = st.session_state.pop(LAUNCHED_RUN_KEY)  # its curves, not the run shown before
    shown = shown_run(paths, rows, remembered)
    st.session_state[SHOWN_RUN_KEY] = shown
    if remembered and remembered not in paths:
        st.session_state[GONE_RUN_KEY] = remembered
    elif rows:
        st.session_state.pop(GONE_RUN_KEY, None)
    if gone := st.session_state.get(GONE_RUN_KEY):
        st.warning(
            markdown_text(
                f"Run {Path(gone).name} no longer exists (deleted, perhaps on another "
                f"dashboard); showing {Path(shown).name}."
            ),
            icon=":material/delete:",
        )
    RunPanel(studio, resume).show(Path(shown))


def compare_section() -> None:
    """Several runs' settings and validation curves together (the two newest at first)."""
    root = studio.settings.data_root
    runs = {relative(run, root): run for run in in_table_order(studio.settings.runs())}
    if len(runs) < 2:
        return
    with st.expander("Compare runs"):
        sweeps = sweeps_of(studio.settings.runs_dir)  # each ranked: best val R@1/5/10 first
        sweep = (
            st.selectbox(
                "Sweep",
                [None, *sweeps],
                format_func=_sweep_shown,
                key=SWEEP_KEY,
                help="A sweep's runs, best val R@1/5/10 (what chose each best.pt) first.",
            )
            if sweeps
            else None
        )
        picked = [name for run in sweeps.get(sweep, []) if (name := relative(run, root)) in runs]
        if sweep is not None:
            # Extend sweep to N epochs: its own command with --epochs N, one job Stop stops
            if job := extend_control(studio.settings.runs_dir, sweep):
                launch(studio.jobs, "train", job.command, job.title, outputs=job.outputs)
        else:
            picked = st.multiselect("Runs", list(runs), default=list(runs)[:2], key="train-compare")
        if not picked:
            st.caption("Pick two or more runs to see them side by side.")
            return
        metrics = {name: read_metrics(runs[name]) for name in picked}
        chosen = {name: runs[name] for name in picked}
        st.dataframe(comparison_table(chosen, metrics, root), hide_index=True)
        st.plotly_chart(comparison_figure(metrics), key="train-compare-chart")


def _sweep_shown(sweep: str | None) -> str:
    return "none: the runs picked below" if sweep is None else f"{sweep}, its runs ranked"


forget_notes()  # the page runs afresh: what the run buttons said last is no longer new
with page_guard(studio):
    launch_form()
with page_guard(studio):  # after a refused launch too: its message names the job that runs
    job_panel(studio.jobs, "train")
st.subheader("Runs")
live_runs()
with page_guard(studio):
    compare_section()
