"""Where an engine keeps its files inside its data directory."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def journal(self) -> Path:
        return self.root / "journal"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    def create(self) -> "DataDir":
        self.journal.mkdir(parents=True, exist_ok=True)
        self.snapshots.mkdir(parents=True, exist_ok=True)
        return self
