"""What an ingest reports: where every record of each file went.

Every record a reader emits is counted, and each lands in exactly one of: stored,
duplicate (already in the case, or earlier in this run), quarantined. The
``IngestReport`` carries those counts per file so they reconcile.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cibwatch.ingest.registry import UNIT_DUPLICATE

RECORD_TABLES = ("posts", "accounts", "account_labels")


def _per_table() -> dict[str, int]:
    return dict.fromkeys(RECORD_TABLES, 0)


@dataclass
class FileReport:
    """What one input file held and where each part of it went, each count taken where it happens.

    Units (non-blank lines, CSV data rows, top-level JSON values) are counted by ``Source`` as it
    parses them; their outcomes by the sink as a unit hands it records or quarantines, or by the
    reader where it merges or drops one (``Sink.unit``). Records are counted per table as readers
    hand them to the sink (``emitted``), where they are dropped (duplicates in the run, by the sink
    and by the commit's deduplication; already in the case; unstorable ones go to quarantine) and
    from the rows the commit wrote (``stored``). ``imbalances`` compares the independent counts.
    """

    path: str
    reader: str
    dataset: str
    units_read: int = 0
    units_used: int = 0
    units_quarantined: int = 0
    # Named outcomes of units that gave no record of their own: "merged", "duplicate", …
    units_other: dict[str, int] = field(default_factory=dict)
    emitted: dict[str, int] = field(default_factory=_per_table)
    stored: dict[str, int] = field(default_factory=_per_table)
    duplicates_in_run: dict[str, int] = field(default_factory=_per_table)
    duplicates_in_case: dict[str, int] = field(default_factory=_per_table)
    # Keys kept whose dropped copies differ in content (provenance aside): within the duplicates.
    conflicting: dict[str, int] = field(default_factory=_per_table)
    unstorable: dict[str, int] = field(default_factory=_per_table)
    quarantined: int = 0  # bad records handed to the sink
    quarantine_stored: int = 0  # quarantine rows the commit wrote
    quarantine_duplicates: int = 0  # quarantine rows already in the case (the file read again) or repeated
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def records_emitted(self) -> int:
        return sum(self.emitted.values())

    @property
    def records_stored(self) -> int:
        return sum(self.stored.values())

    @property
    def duplicate_units(self) -> int:
        """Units that were exact copies of an earlier unit (a repeated CSV row), dropped by the reader."""
        return self.units_other.get(UNIT_DUPLICATE, 0)

    @property
    def in_run_duplicates(self) -> int:
        """Duplicates within this run: repeated units, and records dropped as copies of earlier ones."""
        return self.duplicate_units + sum(self.duplicates_in_run.values())

    @property
    def in_case_duplicates(self) -> int:
        return sum(self.duplicates_in_case.values())

    @property
    def conflicting_duplicates(self) -> int:
        return sum(self.conflicting.values())

    @property
    def duplicates(self) -> int:
        return self.in_run_duplicates + self.in_case_duplicates

    def imbalances(self) -> list[str]:
        """The reconciliation equations that do not hold, each with its figures (empty: it reconciles)."""
        problems = []
        accounted = self.units_used + self.units_quarantined + sum(self.units_other.values())
        if self.units_read != accounted:
            other = "".join(f" + {n:,} {name}" for name, n in sorted(self.units_other.items()))
            problems.append(
                f"units: {self.units_read:,} read != {self.units_used:,} gave records + "
                f"{self.units_quarantined:,} quarantined{other}"
            )
        for table in RECORD_TABLES:
            emitted, stored = self.emitted[table], self.stored[table]
            run, case = self.duplicates_in_run[table], self.duplicates_in_case[table]
            bad = self.unstorable[table]
            if emitted != stored + run + case + bad:
                problems.append(
                    f"{table}: {emitted:,} emitted != {stored:,} stored + {run:,} duplicates in the run + "
                    f"{case:,} already in the case + {bad:,} unstorable"
                )
        if self.quarantined != self.quarantine_stored + self.quarantine_duplicates:
            problems.append(
                f"quarantine: {self.quarantined:,} quarantined != {self.quarantine_stored:,} rows written + "
                f"{self.quarantine_duplicates:,} already in the case"
            )
        return problems

    @property
    def reconciles(self) -> bool:
        return not self.imbalances()

    def sink_counts(self) -> dict[str, Any]:
        """The counts a reading process takes (a worker sends them to the parent)."""
        return {
            "units_read": self.units_read,
            "units_used": self.units_used,
            "units_quarantined": self.units_quarantined,
            "units_other": dict(self.units_other),
            "emitted": dict(self.emitted),
            "duplicates_in_run": dict(self.duplicates_in_run),
            "unstorable": dict(self.unstorable),
            "quarantined": self.quarantined,
        }

    def add_sink_counts(self, counts: dict[str, Any]) -> None:
        for name, value in counts.items():
            if isinstance(value, dict):
                mine = getattr(self, name)
                for key, n in value.items():
                    mine[key] = mine.get(key, 0) + n
            else:
                setattr(self, name, getattr(self, name) + value)


@dataclass
class IngestReport:
    case: str
    files: list[FileReport] = field(default_factory=list)
    seconds: float = 0.0

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    @property
    def reconciles(self) -> bool:
        """Whether every file's independently taken counts balance (see ``FileReport.imbalances``)."""
        return all(f.reconciles for f in self.files)

    def imbalances(self) -> list[str]:
        return [f"{f.path}: {problem}" for f in self.files for problem in f.imbalances()]

    @property
    def notes(self) -> list[str]:
        return [f"{Path(f.path).name}: {note}" for f in self.files for note in f.notes]

    def as_dict(self) -> dict[str, Any]:
        return {
            "case": self.case,
            "seconds": round(self.seconds, 3),
            "reconciles": self.reconciles,
            "units_read": self.total("units_read"),
            "records": self.total("records_emitted"),
            "stored": self.total("records_stored"),
            "duplicates_in_run": self.total("in_run_duplicates"),
            "duplicates_in_case": self.total("in_case_duplicates"),
            "conflicting": self.total("conflicting_duplicates"),
            "quarantined": self.total("quarantined"),
            "imbalances": self.imbalances(),
            "notes": self.notes,
            "files": [
                {
                    "path": f.path,
                    "reader": f.reader,
                    "dataset": f.dataset,
                    "units": {
                        "read": f.units_read,
                        "gave_records": f.units_used,
                        "quarantined": f.units_quarantined,
                        **f.units_other,
                    },
                    "emitted": f.emitted,
                    "stored": f.stored,
                    "duplicates_in_run": f.duplicates_in_run,
                    "duplicate_units": f.duplicate_units,
                    "duplicates_in_case": f.duplicates_in_case,
                    "conflicting": f.conflicting,
                    "unstorable": f.unstorable,
                    "quarantined": f.quarantined,
                    "quarantine_stored": f.quarantine_stored,
                    "quarantine_duplicates": f.quarantine_duplicates,
                    "reconciles": f.reconciles,
                    "imbalances": f.imbalances(),
                    "notes": f.notes,
                    "seconds": round(f.seconds, 3),
                }
                for f in self.files
            ],
        }
