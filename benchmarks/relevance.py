"""Relevance speed: forward, gradient and every explanation method on AudioNet and AlexNet.

Each method is timed right after a paired plain-gradient run on the same batch, and the
ratio method / gradient is the median over pairs (the machine is shared and noisy; a
pair sees the same load). Prints ONE JSON object; ``lrp_over_gradient`` maps each model
to each LRP composite's ratio (fast rules), ``stock_lrp_over_gradient`` the same for
stock zennit rules, ``other_over_gradient`` the baselines.

    python benchmarks/relevance.py [--quick] [--pairs N] [--batch 32] [--width 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from explainer.models import build_model  # noqa: E402
from explainer.relevance import explain, method_names  # noqa: E402
from explainer.relevance.gradients import explaining  # noqa: E402

EXPENSIVE = ("integrated-gradients", "smoothgrad", "occlusion")  # tens of passes each
GOALS = {"lrp-epsilon-plus-flat": 2.0, "lrp-epsilon-gamma-box": 3.0, "lrp-alpha2-beta1": 3.0}
INPUT_SHAPES = {"audionet": (1, 8000), "alexnet": (1, 227, 227)}


def synthetic_batch(architecture: str, batch: int, seed: int) -> torch.Tensor:
    """Inputs with the sign structure of real ones: a centred noisy burst in silence for the
    waveform (normalised like AudioNet's input), non-positive dB values for the spectrogram."""
    g = torch.Generator().manual_seed(seed)
    if architecture == "audionet":
        x = torch.zeros(batch, 1, 8000)
        x[..., 1500:6500] = torch.randn(batch, 1, 5000, generator=g) * torch.hann_window(5000)
        return x / (x.abs().quantile(0.95, dim=-1, keepdim=True) + 1e-3)
    return -80.0 * torch.rand(batch, *INPUT_SHAPES["alexnet"], generator=g) ** 2


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_model(architecture: str, args: argparse.Namespace, bar: tqdm) -> dict[str, object]:
    torch.manual_seed(0)
    model = build_model(architecture, 10, args.width).eval()
    x = synthetic_batch(architecture, args.batch, seed=1)
    gradient = lambda: explain(model, x, "gradient")  # noqa: E731
    with explaining(model), torch.no_grad():
        forward_s = statistics.median(timed(lambda: model(x)) for _ in range(args.pairs))
    runs = [(name, {}) for name in method_names("lrp")]
    runs += [(name, {"implementation": "zennit"}) for name in method_names("lrp")]
    runs += [(name, {}) for name in method_names("baseline") if name != "gradient"]
    for name, params in [("gradient", {}), *runs]:  # warm-up: allocator, oneDNN primitive cache
        if name not in EXPENSIVE:  # these repeat the gradient's passes, already warm
            explain(model, x[:2], name, params=params)
    ratios: dict[str, list[float]] = {}
    seconds: dict[str, list[float]] = {"gradient": []}
    for pair in range(args.pairs):
        for name, params in runs:
            if pair >= args.baseline_pairs and name in EXPENSIVE:
                continue
            key = name + (" (zennit)" if params else "")
            t_grad = timed(gradient)
            t_method = timed(lambda n=name, p=params: explain(model, x, n, params=p))
            seconds["gradient"].append(t_grad)
            seconds.setdefault(key, []).append(t_method)
            ratios.setdefault(key, []).append(t_method / t_grad)
            bar.update()
    median = {key: round(statistics.median(vals), 3) for key, vals in ratios.items()}
    return {
        "forward_s": round(forward_s, 4),
        "gradient_s": round(statistics.median(seconds["gradient"]), 4),
        "method_s": {
            k: round(statistics.median(v), 4) for k, v in seconds.items() if k != "gradient"
        },
        "ratio": median,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="a check run of under a minute (small batch and model)"
    )
    parser.add_argument(
        "--pairs", type=int, default=None, help="paired runs per method (default 5; quick 1)"
    )
    parser.add_argument("--batch", type=int, default=None, help="batch size (default 32; quick 4)")
    parser.add_argument(
        "--width",
        type=float,
        default=None,
        help="model width (default 1.0, the paper's; quick 0.125)",
    )
    parser.add_argument(
        "--baseline-pairs",
        type=int,
        default=2,
        help="paired runs for integrated gradients, SmoothGrad and occlusion (default 2)",
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's choice)"
    )
    args = parser.parse_args()
    args.pairs = args.pairs or (1 if args.quick else 5)
    args.batch = args.batch or (4 if args.quick else 32)
    args.width = args.width or (0.125 if args.quick else 1.0)
    if args.threads:
        torch.set_num_threads(args.threads)
    args.baseline_pairs = min(args.baseline_pairs, args.pairs)
    per_pair = 2 * len(method_names("lrp")) + len(method_names("baseline")) - 1 - len(EXPENSIVE)
    n_runs = 2 * (args.pairs * per_pair + args.baseline_pairs * len(EXPENSIVE))
    models: dict[str, dict[str, object]] = {}
    with tqdm(total=n_runs, desc="relevance benchmark", unit="run", file=sys.stderr) as bar:
        for architecture in ("audionet", "alexnet"):
            models[architecture] = bench_model(architecture, args, bar)
    print(json.dumps(report(models, args), indent=2, sort_keys=True))
    return 0


def report(models: dict[str, dict[str, object]], args: argparse.Namespace) -> dict[str, object]:
    lrp = {a: {n: m["ratio"][n] for n in method_names("lrp")} for a, m in models.items()}
    stock = {
        a: {n: m["ratio"][n + " (zennit)"] for n in method_names("lrp")} for a, m in models.items()
    }
    other = {
        a: {n: m["ratio"][n] for n in method_names("baseline") if n != "gradient"}
        for a, m in models.items()
    }
    met = all(lrp[a][n] <= goal for a in lrp for n, goal in GOALS.items())
    return {
        "lrp_over_gradient": lrp,
        "stock_lrp_over_gradient": stock,
        "other_over_gradient": other,
        "timings": models,
        "goals": {"max_ratio": GOALS, "met": met},
        "settings": {
            "batch": args.batch,
            "width": args.width,
            "pairs": args.pairs,
            "baseline_pairs": args.baseline_pairs,
            "quick": args.quick,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_1min_at_end": round(os.getloadavg()[0], 2),
        },
    }


if __name__ == "__main__":
    sys.exit(main())
