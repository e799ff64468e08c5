"""``python -m explainer bundle-distributed``: the bundle command with chunks rendered by Celery workers.

celery -A explainer.celery_app worker -Q explain         # on every machine, as many as you like
python -m explainer bundle-distributed --run RUN --data DIR --out BUNDLE [bundle options]
    [--work-dir SHARED] [--chunk-size 16] [--broker redis://HOST:6379/0] [--queue explain]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from explainer.bundle import CHUNK_SIZE, check_out, plan_bundle
from explainer.bundle.cli import (
    add_plan_options,
    compare_from_args,
    design_from_args,
    parse_params,
    render_options_from_args,
    report_audible,
    require_plan_options,
    warn_heard_label_baseline,
    warn_shortfall,
)
from explainer.celery_app import DEFAULT_QUEUE
from explainer.distributed.client import check_broker, make_client
from explainer.distributed.coordinator import render_distributed
from explainer.distributed.work_folder import WORK_DIR_NAME
from explainer.errors import UserError


def configure_parser(parser: argparse.ArgumentParser) -> None:
    # The bundle command's planning options, from the same function, so the two never drift
    # apart; --workers and --validate are the bundle command's own (more workers here are
    # more Celery workers).
    add_plan_options(parser)
    parser.add_argument(
        "--work-dir",
        type=Path,
        help=f"folder every worker sees at the same path, e.g. on NFS (default {WORK_DIR_NAME} next to --out)",
    )
    parser.add_argument(
        "--chunk-size",
        type=int,
        default=CHUNK_SIZE,
        help=f"stimuli per task, part of the plan (default {CHUNK_SIZE}, as the bundle command)",
    )
    parser.add_argument("--broker", help="Redis URL of the workers' broker (default: REDIS_URL)")
    parser.add_argument(
        "--queue",
        default=DEFAULT_QUEUE,
        help=f"queue the workers consume (default {DEFAULT_QUEUE})",
    )
    parser.add_argument(
        "--stall-timeout",
        type=float,
        default=0.0,
        help="give up when no chunk finishes for this many seconds (default 0: wait)",
    )


def run(args: argparse.Namespace) -> int:
    require_plan_options(args)
    if args.chunk_size < 1:
        raise UserError(f"--chunk-size must be at least 1, got {args.chunk_size}")
    client = make_client(args.broker)
    check_broker(client)  # before planning, which takes a while
    check_out(Path(args.out), overwrite=args.overwrite)
    spec = plan_bundle(
        args.run,
        args.data,
        design_from_args(args),
        seed=args.seed,
        render=render_options_from_args(args).as_dict(),
        method_params=parse_params(args.param),
        chunk_size=args.chunk_size,
        **compare_from_args(args),
    )
    warn_shortfall(spec)
    result = render_distributed(
        spec,
        args.out,
        client=client,
        work_root=args.work_dir,
        queue=args.queue,
        overwrite=args.overwrite,
        stall_timeout_s=args.stall_timeout or None,
    )
    warn_heard_label_baseline(result["manifest"])
    report_audible(result["manifest"])
    workers = ", ".join(f"{name}: {n}" for name, n in result["rendered_by"].items()) or "none"
    print(
        f"wrote {args.out}: {len(spec['stimuli'])} stimuli ({result['n_files']} files) in {result['n_chunks']} chunks "
        f"({result['reused']} found done; rendered by {workers})",
        file=sys.stderr,
    )
    return 0
