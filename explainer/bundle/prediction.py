"""The model's decision on every candidate recording, batched, with softmax scores."""

from __future__ import annotations

import sys
from typing import Any

from explainer.selection import Candidate

PREDICT_BATCH = 64


def predict_candidates(run: Any, table: Any) -> list[Candidate]:
    """The model's decision on every recording of ``table``, batched, with softmax scores."""
    import torch

    from explainer.rendering import RENDER_THREADS

    recordings = list(table)
    threads = torch.get_num_threads()
    torch.set_num_threads(
        RENDER_THREADS
    )  # as for rendering: results must not depend on the machine
    try:
        return _predict(run, recordings)
    finally:
        torch.set_num_threads(threads)


def _predict(run: Any, recordings: list[Any]) -> list[Candidate]:
    import numpy as np
    import torch
    from tqdm import tqdm

    candidates: list[Candidate] = []
    with tqdm(
        total=len(recordings),
        desc="predicting candidates",
        unit="rec",
        file=sys.stderr,
        disable=None,
    ) as bar:
        for start in range(0, len(recordings), PREDICT_BATCH):
            batch = recordings[start : start + PREDICT_BATCH]
            prepared = [run.prepare(r.path, r.relpath) for r in batch]
            inputs = np.stack([p[1] for p in prepared]).astype(np.float32)
            with torch.no_grad():
                scores = torch.softmax(
                    run.model(torch.from_numpy(inputs).unsqueeze(1)).double(), dim=1
                ).numpy()
            for rec, row, (_, _, offset) in zip(batch, scores, prepared, strict=True):
                candidates.append(
                    Candidate(
                        relpath=rec.relpath,
                        speaker=rec.speaker,
                        take=rec.take,
                        audio_sha256=rec.audio_sha256,
                        true_label=rec.label(run.task),
                        predicted_label=run.classes[int(row.argmax())],
                        scores=tuple(round(float(s), 6) for s in row),
                        offset_samples=int(offset),
                    )
                )
            bar.update(len(batch))
    return candidates
