"""``python -m explainer <command>``: one sub-command per module.

Each command module defines ``configure_parser(parser)`` and ``run(args) -> int``.
Only the chosen command's module is imported, so ``corpus`` does not pay for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from explainer.errors import UserError

COMMANDS: dict[str, tuple[str, str]] = {
    "corpus": ("explainer.corpus", "write the synthetic demo corpus (AudioMNIST layout)"),
    "check": ("explainer.check", "check a corpus and list every problem at once"),
    "cue": ("explainer.cue_corpus", "copies of a corpus with a planted cue (cued training, probe)"),
    "cue-eval": ("explainer.cue_reliance", "how much a model follows a planted cue (probe corpus)"),
    "degrade": ("explainer.noisy_corpus", "a copy of a corpus with noise at a given SNR"),
    "train": (
        "explainer.training",
        "train AudioNet, AlexNet or your own model on a corpus (or evaluate its given weights)",
    ),
    "predict": ("explainer.predict", "classify new WAV files with a trained run"),
    "evaluate": ("explainer.evaluation", "test accuracy per split, in the paper's format"),
    "faithfulness": (
        "explainer.faithfulness.cli",
        "relevance-guided perturbation: AOPC per method, bands, sanity checks",
    ),
    "cache": ("explainer.cache_command", "show the size of the preprocessing cache, or clear it"),
    "bundle": (
        "explainer.bundle.cli",
        "explain decisions and write (or --validate) a stimulus bundle",
    ),
    "bundle-distributed": (
        "explainer.distributed.cli",
        "the bundle command with chunks rendered by Celery workers",
    ),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m explainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        parser = _top_parser()
        if argv and not argv[0].startswith("-"):
            parser.print_usage(sys.stderr)
            print(
                f"error: unknown command {argv[0]!r}; choose one of {', '.join(COMMANDS)}",
                file=sys.stderr,
            )
            return 2
        parser.parse_args(argv)  # handles --help
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    parser = argparse.ArgumentParser(
        prog=f"python -m explainer {argv[0]}", description=COMMANDS[argv[0]][1]
    )
    module.configure_parser(parser)
    args = parser.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
