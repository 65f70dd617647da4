"""Export a chosen arch as a deployable network: weights, TorchScript, ONNX and plain PyTorch source."""

from nasforge.export.ensemble import Ensemble, check_ensemble_seeds, check_ensemble_size, check_time_budget
from nasforge.export.exporter import (
    DEFAULT_FORMATS,
    FORMATS,
    check_formats,
    export_model,
    load_model,
    space_from_spec,
    space_spec,
    write_metrics,
)
from nasforge.export.inputs import INPUT_KINDS, BaseInputs, inputs_for
from nasforge.export.outputs import OUTPUT_KINDS, BaseOutputs, ClassOutputs, outputs_for
from nasforge.export.predictor import Predictor, load
from nasforge.export.standalone import ExportError, load_standalone, standalone_source
from nasforge.export.translator import TranslationInputs, TranslationOutputs, Translator, load_translator

__all__ = [
    "DEFAULT_FORMATS",
    "FORMATS",
    "INPUT_KINDS",
    "OUTPUT_KINDS",
    "BaseInputs",
    "BaseOutputs",
    "ClassOutputs",
    "Ensemble",
    "ExportError",
    "Predictor",
    "TranslationInputs",
    "TranslationOutputs",
    "Translator",
    "check_ensemble_seeds",
    "check_ensemble_size",
    "check_formats",
    "check_time_budget",
    "export_model",
    "inputs_for",
    "load",
    "load_model",
    "load_standalone",
    "load_translator",
    "outputs_for",
    "space_from_spec",
    "space_spec",
    "standalone_source",
    "write_metrics",
]
