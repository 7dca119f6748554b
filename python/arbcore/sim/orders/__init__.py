"""Simulated order sides, one module per venue wire format (see `arbcore.sim.exchange`)."""
