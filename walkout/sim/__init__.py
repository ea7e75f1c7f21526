"""The store simulator: scenarios -> video + weights + ground truth (a labelled clip)."""

from .scenario import PRESETS, make_scenario
from .simulate import simulate

__all__ = ["PRESETS", "make_scenario", "simulate"]
