"""Faithfulness of explanations: relevance-guided perturbation, per-stimulus AOPC, sanity checks.

Modules, one idea each: :mod:`regions` (what a removed region is), :mod:`replacement`
(what it becomes), :mod:`curves` (batched MoRF / LeRF / random perturbation curves),
:mod:`summary` (AOPC and bootstrap intervals), :mod:`experiment` (a run of all methods
over clips), :mod:`bands` (frequency-band tests), :mod:`sanity` (model-parameter
randomisation), :mod:`cue_check` (planted-cue checks), :mod:`stimulus` (each bundle
stimulus's deletion AOPC), :mod:`playback` (the audible heatmap played back to the model, L-MAC), :mod:`figures` and :mod:`cli` (``python -m explainer faithfulness``).
"""
