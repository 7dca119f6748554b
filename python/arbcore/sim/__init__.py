"""Simulated venues on loopback that speak each venue's real protocol (see server.py)."""

from arbcore.sim.binance import BinanceSim
from arbcore.sim.book import MidProcess, TrueBook, VenueBookProcess
from arbcore.sim.bybit import BybitSim
from arbcore.sim.coinbase import CoinbaseSim
from arbcore.sim.kraken import KrakenSim
from arbcore.sim.market import SimMarket
from arbcore.sim.okx import OkxSim
from arbcore.sim.server import Fault, InstrumentState, SimConnection, SimInstrument, SimProtocol, SimVenue

__all__ = [
    "BinanceSim",
    "BybitSim",
    "CoinbaseSim",
    "Fault",
    "InstrumentState",
    "KrakenSim",
    "MidProcess",
    "OkxSim",
    "SimConnection",
    "SimInstrument",
    "SimMarket",
    "SimProtocol",
    "SimVenue",
    "TrueBook",
    "VenueBookProcess",
]
