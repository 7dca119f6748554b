"""Simulated venues on loopback that speak each venue's real protocol (see server.py)."""

from arbcore.sim.book import MidProcess, TrueBook, VenueBookProcess
from arbcore.sim.bybit import BybitSim
from arbcore.sim.server import Fault, InstrumentState, SimConnection, SimInstrument, SimProtocol, SimVenue

__all__ = [
    "BybitSim",
    "Fault",
    "InstrumentState",
    "MidProcess",
    "SimConnection",
    "SimInstrument",
    "SimProtocol",
    "SimVenue",
    "TrueBook",
    "VenueBookProcess",
]
