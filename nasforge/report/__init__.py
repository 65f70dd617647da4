"""See what a search did: an HTML report (`write_report`) and a live dashboard (`nasforge dashboard`)."""

from nasforge.report.data import ExperimentView, experiment_summaries, load_view
from nasforge.report.html import render_report, write_report

__all__ = ["ExperimentView", "experiment_summaries", "load_view", "render_report", "write_report"]
