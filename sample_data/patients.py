"""Fake patient identities (PHI that ingest must strip): names, MRNs, birth dates, addresses.

Names come from lists of uncommon words so a leak test can search for them without false hits in
clinical text. A small share of studies are repeat scans of an earlier patient of the same run
(same identity), so patient-grouped splits have something to group.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

FIRST_NAMES = (
    "Aurelio", "Brunhilde", "Casimir", "Delphine", "Evander", "Fenella", "Gideon", "Hortensia",
    "Ignatius", "Jessamine", "Leopold", "Marisol", "Nikolai", "Ottoline", "Peregrine", "Rosalind",
    "Sebastiano", "Thomasina", "Ulrika", "Valentin", "Wilhelmina", "Xavier", "Yolanda", "Zebulon",
)  # fmt: skip
LAST_NAMES = (
    "Abernathy", "Blackwood", "Castellanos", "Drummondson", "Eberhardt", "Fairweather",
    "Gallagher", "Hollingsworth", "Ingersoll", "Jorgensen", "Kowalczyk", "Lindqvist",
    "Montgomery", "Nakagawa", "Oyelaran", "Pemberton", "Quintanilla", "Rasmussen", "Szymanski",
    "Thistlewood", "Urquhart", "Vandermeer", "Whitlock", "Yamamura",
)  # fmt: skip
STREETS = ("Juniper Lane", "Old Mill Road", "Harbour View", "Chestnut Avenue", "Kingfisher Way")
TOWNS = ("Ashbury", "Brackenfield", "Coldwater", "Dunmore", "Elmstead")
REFERRERS = ("Okonkwo", "Halvorsen", "Petrakis", "Lindgren", "Moreau", "Tanaka", "Vasquez")
REPEAT_SHARE = 0.05


@dataclass(frozen=True)
class PatientIdentity:
    """Every PHI value planted for one patient, in DICOM and in report spelling."""

    given_name: str
    family_name: str
    patient_id: str  # MRN
    birth_date: dt.date
    sex: str
    address: str

    @property
    def dicom_name(self) -> str:
        return f"{self.family_name.upper()}^{self.given_name.upper()}"

    @property
    def report_name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    def phi_values(self) -> list[str]:
        """Every spelling of the identifying values that appears in DICOM or reports."""
        return [
            self.dicom_name,
            self.report_name,
            self.family_name,
            self.patient_id,
            self.birth_date.strftime("%Y%m%d"),
            self.birth_date.strftime("%d/%m/%Y"),
            self.birth_date.isoformat(),
            self.address,
        ]


def patient_identity(
    seed: int, site_code: int, patient_index: int, sex: str, age: int, study_date: dt.date
) -> PatientIdentity:
    """Identity of patient ``patient_index`` of a run: deterministic in (seed, site, index)."""
    rng = np.random.default_rng([seed, site_code, patient_index, 7])
    birth = study_date - dt.timedelta(days=int(age * 365.25 + rng.integers(0, 365)))
    number = int(rng.integers(1, 200))
    return PatientIdentity(
        given_name=str(rng.choice(FIRST_NAMES)),
        family_name=str(rng.choice(LAST_NAMES)),
        patient_id=f"{site_code}{int(rng.integers(10**6, 10**7))}{patient_index % 97:02d}",
        birth_date=birth,
        sex=sex,
        address=f"{number} {rng.choice(STREETS)}, {rng.choice(TOWNS)}",
    )


def referring_physician(rng: np.random.Generator) -> tuple[str, str]:
    """(DICOM PN, report spelling) of a fake referring physician."""
    name = str(rng.choice(REFERRERS))
    initial = str(rng.choice(list("ABCDEFGHJKLMNPRSTW")))
    return f"{name.upper()}^{initial}", f"Dr {initial}. {name}"
