"""Export formats: TorchScript, ONNX and plain PyTorch source, each checked against the network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from nasforge.errors import ConfigError
from nasforge.export import ExportError, check_formats, export_model, load_standalone, standalone_source
from nasforge.space import Arch, ModelSpace, choice
from nasforge.zoo import NB201Space, SmallImageCNN


def trained_like(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fresh weights and random BatchNorm statistics, so that a wrong layer argument shows in the output."""
    torch.manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
            if module.affine:
                nn.init.uniform_(module.weight, 0.5, 1.5)
                nn.init.uniform_(module.bias, -0.2, 0.2)
        elif hasattr(module, "reset_parameters"):
            module.reset_parameters()
    return model.eval()


@pytest.mark.parametrize("seed", range(6))
def test_standalone_source_computes_what_the_network_computes(seed: int) -> None:
    for space, shape in ((SmallImageCNN(), (1, 28, 28)), (NB201Space(C=8, N=1), (3, 32, 32))):
        model = trained_like(space.freeze(space.random(seed)), seed)
        x = torch.randn(3, *shape, generator=torch.Generator().manual_seed(seed))
        source = standalone_source(model, x)
        assert "nasforge" not in source.split('"""')[2]  # the code after the docstring needs only torch
        net = load_standalone(source, model.state_dict())
        with torch.no_grad():
            torch.testing.assert_close(net(x), model(x), rtol=1e-5, atol=1e-5)


class Branchy(ModelSpace):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, choice("width", [2, 3]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x) if x.sum() > 0 else -self.fc(x)  # control flow on a tensor value


def test_untraceable_network_names_the_way_out() -> None:
    space = Branchy()
    with pytest.raises(ExportError, match="TorchScript or ONNX"):
        standalone_source(space.freeze(space.default_arch()), torch.ones(2, 4))


def test_formats_are_checked() -> None:
    assert check_formats("torchscript, onnx") == ("torchscript", "onnx")
    assert check_formats(["all"]) == ("pt", "torchscript", "onnx", "python")
    with pytest.raises(ConfigError, match="among pt, torchscript, onnx, python"):
        check_formats(["torchscript", "tflite"])


def test_every_format_is_written_and_agrees(tmp_path: Path) -> None:
    space = SmallImageCNN(input_shape=(1, 16, 16))
    arch = space.random(3)
    model = trained_like(space.freeze(arch))
    example = torch.randn(5, 1, 16, 16)
    folder = export_model(model, space, arch, tmp_path / "out", {"val_acc": 0.5}, (1, 16, 16), None, "all", example)
    manifest = json.loads((folder / "export.json").read_text())
    assert set(manifest["files"]) == {"pt", "torchscript", "onnx", "python"}
    assert all(0 <= d <= 1e-4 for d in manifest["max_abs_diff"].values())
    assert Arch.from_json((folder / "arch.json").read_text()) == arch

    # the ONNX batch axis is dynamic
    import onnxruntime

    session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": torch.randn(11, 1, 16, 16).numpy()})
    assert logits.shape == (11, 10)

    # model.py runs where nasforge cannot be imported, with the exported weights
    torch.save(example, tmp_path / "x.pt")
    with torch.no_grad():
        torch.save(model(example), tmp_path / "want.pt")
    script = (
        "import sys; sys.modules['nasforge'] = None\n"
        "import torch\n"
        "from model import build\n"
        "net = build('weights.pt')\n"
        f"x, want = torch.load({str(tmp_path / 'x.pt')!r}), torch.load({str(tmp_path / 'want.pt')!r})\n"
        "print(float((net(x) - want).abs().max()))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert float(done.stdout) <= 1e-5


def test_formats_needing_input_without_a_shape_are_refused(tmp_path: Path) -> None:
    space = SmallImageCNN(input_shape=(1, 16, 16))
    arch = space.default_arch()
    with pytest.raises(ConfigError, match="needs the input shape"):
        export_model(space.freeze(arch), space, arch, tmp_path / "o", formats=["python"])
    assert not (tmp_path / "o").exists()  # refused before writing anything
