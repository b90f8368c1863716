"""An offline fake of the AssemblyAI API (pre-recorded STT, LLM Gateway, token hosts).

Used in-process through `httpx.ASGITransport(app=build_simulator_app(config))` when no
API key is configured, standalone via `run_simulator`, and by tests. Each accepted key is an
account of its own (`SimulatorConfig.api_keys`), so the key pool can be tried against it.
"""

from .account_state import RecordedRequest, Simulator
from .app import build_simulator_app
from .config import SimulatorConfig
from .faults import FAULT_KINDS, SimulatedConnectionReset
from .listener import run_simulator

__all__ = [
    "FAULT_KINDS",
    "RecordedRequest",
    "SimulatedConnectionReset",
    "Simulator",
    "SimulatorConfig",
    "build_simulator_app",
    "run_simulator",
]
