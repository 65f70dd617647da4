"""Export a chosen arch as a deployable network."""

from nasforge.export.exporter import export_model, load_model, space_from_spec, space_spec

__all__ = ["export_model", "load_model", "space_from_spec", "space_spec"]
