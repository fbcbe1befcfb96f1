"""Site profiles: how one hospital's scanner and readers differ from another's.

A profile fixes the vendor, field strength, acquisition matrix and pixel spacing, cine frames per
cycle, noise and intensity scale, the image orientation convention, the SeriesDescription naming
and the report style. ``internal`` is a 1.5 T Siemens-like site that writes the short-axis cine as
one multi-slice series; ``external`` is a 3 T GE-like site that writes one series per slice, shows
long-axis views rotated (apex to the right) and stores short-axis slices apex first.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.errors import UserError

# View slots the generator renders (names from model/schema.py VIEW_SLOTS).
SAX_CINE_SLOTS: tuple[str, ...] = ("sax_base", "sax_mid", "sax_apex")
LAX_CINE_SLOTS: tuple[str, ...] = ("4ch", "2ch", "3ch")


@dataclass(frozen=True)
class SeriesNames:
    """SeriesDescription strings a site writes; ``sax`` may contain ``{n}`` (slice number)."""

    sax: str
    lax: dict[str, str]
    lge_sax: str
    lge_lax: dict[str, str]


@dataclass(frozen=True)
class SiteProfile:
    """Scanner, protocol and reporting conventions of one site."""

    name: str
    site_code: int  # mixes into every seed so sites never share random streams
    manufacturer: str
    model_name: str
    field_strength_t: float
    institution: str
    rows: int
    cols: int
    pixel_spacing_mm: float
    slice_thickness_mm: float
    cine_phases: int
    lge_sax_slices: int
    noise_sigma: float  # Rician sigma relative to blood-pool signal 1.0
    banding: bool  # off-resonance dark bands (3 T bSSFP)
    intensity_scale: float  # stored value of blood pool before gain jitter
    lax_apex_right: bool  # long-axis views rotated 90 degrees (apex at the image's right edge)
    sax_apex_first: bool  # short-axis InstanceNumber / series number order
    sax_single_series: bool  # one multi-slice SAX cine series vs one series per slice
    series: SeriesNames
    report_style: str  # "terse" (numbered, abbreviations) or "prose"
    repetition_time_ms: float
    echo_time_ms: float
    flip_angle_deg: float
    station_name: str


INTERNAL = SiteProfile(
    name="internal",
    site_code=1,
    manufacturer="SIEMENS",
    model_name="MAGNETOM Aera",
    field_strength_t=1.5,
    institution="Northfield University Hospital",
    rows=56,
    cols=56,
    pixel_spacing_mm=3.6,
    slice_thickness_mm=8.0,
    cine_phases=16,
    lge_sax_slices=6,
    noise_sigma=0.045,
    banding=False,
    intensity_scale=900.0,
    lax_apex_right=False,
    sax_apex_first=False,
    sax_single_series=True,
    series=SeriesNames(
        sax="CINE_SAX",
        lax={"4ch": "CINE_4CH", "2ch": "CINE_2CH", "3ch": "CINE_3CH"},
        lge_sax="LGE_PSIR_SAX",
        lge_lax={"lge_4ch": "LGE_PSIR_4CH", "lge_2ch": "LGE_PSIR_2CH"},
    ),
    report_style="terse",
    repetition_time_ms=3.1,
    echo_time_ms=1.3,
    flip_angle_deg=60.0,
    station_name="NFHMR01",
)

EXTERNAL = SiteProfile(
    name="external",
    site_code=2,
    manufacturer="GE MEDICAL SYSTEMS",
    model_name="SIGNA Premier",
    field_strength_t=3.0,
    institution="Lakeside Regional Medical Center",
    rows=52,
    cols=60,
    pixel_spacing_mm=3.3,
    slice_thickness_mm=7.0,
    cine_phases=14,
    lge_sax_slices=7,
    noise_sigma=0.032,
    banding=True,
    intensity_scale=2400.0,
    lax_apex_right=True,
    sax_apex_first=True,
    sax_single_series=False,
    series=SeriesNames(
        sax="FIESTA SA {n}",
        lax={"4ch": "FIESTA 4CH", "2ch": "FIESTA 2CH", "3ch": "FIESTA LVOT"},
        lge_sax="MDE SA",
        lge_lax={"lge_4ch": "MDE 4CH", "lge_2ch": "MDE 2CH"},
    ),
    report_style="prose",
    repetition_time_ms=3.6,
    echo_time_ms=1.6,
    flip_angle_deg=45.0,
    station_name="LRMC3T",
)

SITE_PROFILES: dict[str, SiteProfile] = {p.name: p for p in (INTERNAL, EXTERNAL)}


def get_site(name: str) -> SiteProfile:
    """The profile called ``name``; an unknown name is a UserError listing the known ones."""
    try:
        return SITE_PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(SITE_PROFILES))
        raise UserError(f"unknown site profile {name!r}; choose one of: {known}") from None


def series_descriptions(site: SiteProfile) -> list[str]:
    """Every SeriesDescription the site writes (SAX slice numbers expanded for 3 slices)."""
    names = [site.series.sax.format(n=n) for n in (1, 2, 3)]
    names += list(site.series.lax.values())
    names += [site.series.lge_sax, *site.series.lge_lax.values()]
    return sorted(set(names))
