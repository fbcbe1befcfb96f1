"""Pictures made from a study, never acquired, refused before they can take an image's place.

They keep the study, the modality and often the series' description and geometry of what they
show: read as one, a "CINE SAX" screenshot took a short-axis slice's place as the newest series
there. Refused: secondary captures (a screenshot of a viewer, a report page), palette-colour
images (a colour-coded map), and colour images (RGB or YBR) whose channels differ (an MR scanner
writes grey; colour is a screenshot with coloured annotations, a fused or parametric map). A
colour image whose three channels are equal is a grey image an exporter stored as colour, and is
read (``read_pixels`` averages its channels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.data.dicom_open import DicomReadError, decode_pixels, open_data_set
from model.data.dicom_tags import TopLevel

SECONDARY_CAPTURE = "1.2.840.10008.5.1.4.1.1.7"  # its SOP class; multi-frame ones add ".1"-".4"
# channels this fraction of the stored range apart still count as equal (lossy chroma rounding)
GREY_TOLERANCE = 0.01


def refuse_derived_pictures(top: TopLevel) -> None:
    """DicomReadError for a secondary capture or a palette-colour image."""
    sop_class = top.text("SOPClassUID")
    if sop_class == SECONDARY_CAPTURE or sop_class.startswith(SECONDARY_CAPTURE + "."):
        raise DicomReadError("secondary capture (a screenshot or saved picture), not an MR image")
    if top.text("PhotometricInterpretation").upper() == "PALETTE COLOR":
        raise DicomReadError("palette colour image (a colour-coded map), not an MR image")


def refuse_colour(top: TopLevel, path: Path) -> None:
    """DicomReadError for a colour image whose channels differ; decoded here to tell, once its
    pixel data was checked (``dicom_read._check_pixels``) and only when it has several samples
    per pixel (rare: MR images are grey)."""
    if (top.unsigned_short("SamplesPerPixel") or 1) < 2:
        return
    bits = top.unsigned_short("BitsStored") or top.unsigned_short("BitsAllocated") or 8
    if not is_grey(decode_pixels(open_data_set(path)), bits):
        photometric = top.text("PhotometricInterpretation").upper() or "colour"
        raise DicomReadError(
            f"colour image ({photometric}) with differing channels: a screenshot or "
            "colour-coded map, not an MR acquisition"
        )


def is_grey(pixels: np.ndarray, bits: int) -> bool:
    """Whether decoded colour ``pixels`` (``[..., channels]``, RGB) hold one grey value per pixel:
    their channels within ``GREY_TOLERANCE`` of the ``bits``-bit range of one another."""
    channels = pixels[..., :3].astype(np.int64)
    spread = int((channels.max(axis=-1) - channels.min(axis=-1)).max())
    return spread <= max(1, int(GREY_TOLERANCE * ((1 << min(bits, 32)) - 1)))
