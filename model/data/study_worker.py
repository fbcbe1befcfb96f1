"""Ingest's second pass, one study per task (run in a worker process): build the study's tensor
from its headers (DICOM) or case folder (ACDC NIfTI) and write ``tensors/<study_id>.npy``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from model.data.dicom_read import SliceHeader
from model.data.nifti import build_acdc_case
from model.data.resample import GridConfig
from model.data.store import report_row, write_tensor
from model.data.study import StudyTensor, build_study
from model.data.time_limit import STUDY_SECONDS, time_limit
from model.data.views import ViewMap
from model.errors import DataError
from model.schema import DatasetPaths

log = logging.getLogger(__name__)


@dataclass
class StudyTask:
    """One unit of pass-2 work, sent to a worker process."""

    study_id: str
    dataset: str
    grid: GridConfig
    view_map: ViewMap | None
    headers: list[SliceHeader] | None = None
    acdc_folder: str | None = None
    earlier_views: tuple[str, ...] = ()  # the views the dataset holds of this study already


def process_study(task: StudyTask) -> tuple[StudyTensor | None, list[dict], dict]:
    """Worker: build and write one study's tensor -> (tensor less pixels, report rows, labels)."""
    where = task.acdc_folder or (task.headers[0].path if task.headers else "")
    labels: dict = {}
    try:
        if task.acdc_folder is not None:
            tensor, labels = build_acdc_case(Path(task.acdc_folder), task.grid)
        else:
            with time_limit(STUDY_SECONDS, "building the study"):
                tensor = build_study(task.headers or [], task.grid, task.view_map)
    except DataError as err:
        return None, [report_row(where, "rejected", str(err), task.study_id)], labels
    except Exception as err:  # keep the ingest going; the reason lands in the report
        log.debug("study %s failed", task.study_id, exc_info=True)
        reason = f"study could not be processed: {type(err).__name__}: {err}"  # cut once scrubbed
        return None, [report_row(where, "rejected", reason, task.study_id)], labels
    rows = [
        report_row(p, level, reason, task.study_id, series)
        for p, series, level, reason in tensor.problems
    ]
    if not tensor.views:
        rows.append(report_row(where, "rejected", "no usable view in study", task.study_id))
        return None, rows, labels
    if set(task.earlier_views) - set(tensor.views):
        rows.append(report_row(where, "warning", _kept_reason(task, tensor), task.study_id))
        return None, rows, labels
    write_tensor(DatasetPaths(Path(task.dataset)), task.study_id, tensor.video)
    tensor.video = tensor.video[:0]
    return tensor, rows, labels


def _kept_reason(task: StudyTask, tensor: StudyTensor) -> str:
    """Why a study the dataset holds with more views is not replaced by these files (part of a
    study sent again, or a later export of some of its series): replacing it would lose views."""
    return (
        f"already in the dataset with views {','.join(task.earlier_views)}, and these files give "
        f"only {','.join(tensor.views)}: the dataset keeps the study as it was (ingest all of its "
        "series together to replace it)"
    )
