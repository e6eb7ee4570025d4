"""The engine: the core made durable by the sequencer, the journal and snapshots."""

from exchange.engine.journaled import JournaledCore
from exchange.engine.layout import DataDir
from exchange.engine.recovery import Recovered, rebuild

__all__ = ["DataDir", "JournaledCore", "Recovered", "rebuild"]
