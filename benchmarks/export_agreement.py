"""Do the exported files compute what the PyTorch network computes, on a whole test set?

Reads an export folder (`nasforge export NAME --format all`), runs the network rebuilt from weights.pt and
each exported file (TorchScript, ONNX Runtime, the standalone model.py) over every test image of the
dataset, and reports the largest logit difference and how many predictions differ.

    python benchmarks/export_agreement.py nasforge-out/fashion-mnist --dataset fashion_mnist

Writes a new record under records/ux/ (benchmarks/records.py), one run per exported format.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from nasforge.data import get_dataset
from nasforge.export import load_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records import Record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="an export folder")
    parser.add_argument("--dataset", default="fashion_mnist", help="registered dataset whose test split to use")
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    folder = Path(args.folder)
    splits = get_dataset(args.dataset).load()
    if splits.test is None:
        raise SystemExit(f"dataset {args.dataset!r} has no test split")
    x = splits.test.x
    reference = load_model(folder)
    runners = {"pytorch": reference}
    if (folder / "model.torchscript.pt").is_file():
        runners["torchscript"] = torch.jit.load(str(folder / "model.torchscript.pt"), map_location="cpu").eval()
    if (folder / "model.onnx").is_file():
        import onnxruntime

        session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        runners["onnx"] = lambda t: torch.from_numpy(session.run(None, {"input": t.numpy()})[0])
    if (folder / "model.py").is_file():
        sys.path.insert(0, str(folder))
        import model as standalone  # the exported file, without nasforge

        runners["python"] = standalone.build(str(folder / "weights.pt"))
    outputs, seconds = {}, {}
    with torch.no_grad():
        for name, run in runners.items():
            start = time.perf_counter()
            outputs[name] = torch.cat([run(x[i : i + args.batch]) for i in range(0, len(x), args.batch)])
            seconds[name] = time.perf_counter() - start
    ref = outputs["pytorch"]
    result = {
        "folder": str(folder),
        "dataset": args.dataset,
        "test_images": len(x),
        "test_acc_pytorch": float((ref.argmax(1) == splits.test.y).float().mean()),
        "formats": {
            name: {
                "max_abs_logit_diff": float((out - ref).abs().max()),
                "predictions_differing": int((out.argmax(1) != ref.argmax(1)).sum()),
                "seconds": round(seconds[name], 3),
            }
            for name, out in outputs.items()
            if name != "pytorch"
        },
        "torch": torch.__version__,
        "machine": platform.machine(),
    }
    print(json.dumps(result, indent=2))
    record = Record("export_agreement", area="ux", config=vars(args))
    record.runs = [{"format": name, **f} for name, f in result["formats"].items()]
    print(f"record: {record.save(summary={k: v for k, v in result.items() if k != 'formats'})}")
    worst = max((f["max_abs_logit_diff"] for f in result["formats"].values()), default=0.0)
    return 0 if worst <= 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
