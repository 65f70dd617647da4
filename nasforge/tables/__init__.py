"""Tabular NAS benchmarks: precomputed results of every architecture of a space, read from data files."""

from nasforge.tables.naslib import load_naslib_zero_cost, naslib_zero_cost_path
from nasforge.tables.nb201 import NB201PerSeed, NB201Table, nb201_search_paths

__all__ = ["NB201PerSeed", "NB201Table", "load_naslib_zero_cost", "naslib_zero_cost_path", "nb201_search_paths"]
