"""A researcher's own PyTorch model, described by a small JSON file (the *model description*).

::

    {
      "name": "logmel-cnn",
      "factory": "mymodels.py:build",          # or "package.module:build", or
      "torchscript": "scripted.pt",            # instead of "factory"
      "factory_kwargs": {"n_classes": 10},     # optional, passed to the factory
      "weights": "weights.pt",                 # optional state dict to start from (or,
                                               # with ``train --no-train``, to evaluate)
      "input": "logmel",                       # "waveform", "spectrogram" or "logmel"
      "sample_rate": 8000,
      "window_samples": 8000,
      "labels": ["0", "1", ...]                # optional: the output order (default: the task's)
    }

Paths are relative to the description file. Every problem is a :class:`UserError` naming
the file and field, raised by :func:`load_spec` and :func:`build_own_model` before any
training starts. The description is recorded in the run's ``config.json``
(``model_spec``), so :func:`explainer.training.load_run` can rebuild the network.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from explainer import preprocessing as pp
from explainer.errors import UserError

FIELDS = (
    "name",
    "factory",
    "torchscript",
    "factory_kwargs",
    "weights",
    "input",
    "sample_rate",
    "window_samples",
    "labels",
)
NAME_LIMIT = 32  # the study site stores a bundle's architecture in 32 characters
# Rates a waveform model may declare: telephone speech to studio audio.
MIN_RATE, MAX_RATE = 4000, 96000


def load_spec(path: Path, task_classes: list[str]) -> dict[str, Any]:
    """Read and check a model description; returns it with paths made absolute.

    ``task_classes`` are the classes of the task being trained; the description's
    ``labels`` (the model's output order) must name exactly those.
    """
    path = Path(path)
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read the model description ({exc})") from None
    if not isinstance(spec, dict):
        raise UserError(f"{path}: a model description is a JSON object")
    unknown = sorted(set(spec) - set(FIELDS))
    if unknown:
        raise UserError(
            f"{path}: unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}"
        )
    _check_fields(path, spec, task_classes)
    for key in ("torchscript", "weights"):
        if key in spec:
            spec[key] = str((path.parent / spec[key]).resolve())
    if "factory" in spec:
        module, _, function = spec["factory"].rpartition(":")
        if module.endswith(".py"):
            module = str((path.parent / module).resolve())
        spec["factory"] = f"{module}:{function}"
    spec.setdefault("labels", list(task_classes))
    spec.setdefault("factory_kwargs", {})
    spec["description_file"] = path.name
    return spec


def _check_fields(path: Path, spec: dict[str, Any], task_classes: list[str]) -> None:
    name = spec.get("name")
    if not isinstance(name, str) or not name or len(name) > NAME_LIMIT:
        raise UserError(f"{path}: name must be a text of 1 to {NAME_LIMIT} characters")
    if ("factory" in spec) == ("torchscript" in spec):
        raise UserError(f"{path}: give exactly one of factory (module:function) and torchscript")
    if "factory" in spec and ":" not in str(spec["factory"]):
        raise UserError(f"{path}: factory must read module:function, got {spec['factory']!r}")
    if spec.get("input") not in pp.REPRESENTATIONS:
        raise UserError(
            f"{path}: input must be one of {', '.join(pp.REPRESENTATIONS)}, got {spec.get('input')!r}"
        )
    _check_rate_and_window(path, spec)
    labels = spec.get("labels", task_classes)
    if not isinstance(labels, list) or sorted(map(str, labels)) != sorted(task_classes):
        raise UserError(
            f"{path}: labels {labels!r} do not match the task's classes {task_classes} "
            "(one output per class, in the model's order)"
        )
    if not isinstance(spec.get("factory_kwargs", {}), dict):
        raise UserError(f"{path}: factory_kwargs must be a JSON object")


def _check_rate_and_window(path: Path, spec: dict[str, Any]) -> None:
    """A waveform model may read any rate and a window of at least one second (it is fed
    the pipeline's window resampled, :class:`AtModelRate`); the spectrogram and log-mel
    front ends are computed here, at 8 kHz over one second, so they take nothing else."""
    rate, window = spec.get("sample_rate"), spec.get("window_samples")
    for key, value in (("sample_rate", rate), ("window_samples", window)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise UserError(f"{path}: {key} must be a positive whole number, got {value!r}")
    if (rate, window) == (pp.SAMPLE_RATE, pp.WINDOW):
        return
    if spec["input"] != "waveform":
        raise UserError(
            f"{path}: a {spec['input']} input is computed here at {pp.SAMPLE_RATE} Hz over "
            f"{pp.WINDOW} samples, so declare sample_rate {pp.SAMPLE_RATE} and window_samples "
            f"{pp.WINDOW}, or declare input waveform and compute your features inside the model"
        )
    if not MIN_RATE <= rate <= MAX_RATE:
        raise UserError(f"{path}: sample_rate {rate} is outside {MIN_RATE}..{MAX_RATE} Hz")
    if window < rate:
        raise UserError(
            f"{path}: window_samples {window} is shorter than one second at {rate} Hz; every "
            f"clip is placed in a one-second window, which the model must see whole"
        )


class AtModelRate(nn.Module):
    """A waveform model declared at another rate or window, fed the pipeline's window.

    The pipeline places every clip in one second at 8 kHz (what participants hear and
    heatmaps show). This front end resamples that window to the model's rate with julius
    (band-limited sinc interpolation, differentiable) and centres it in the model's
    window with zeros around it, so the model reads what it declared; the audio holds
    nothing above 4 kHz. Relevance and gradients come back through the resampler's
    transpose onto the 8 kHz window; its interpolation weights sum to 1 for every output
    sample, so LRP's total is kept (to about 1e-3, julius's kernel). The resampler is
    a plain module, not a convolution, so no LRP rule is put on it and the model's own
    first layer keeps the first-layer rule.

    The state dict is the wrapped model's own, so ``model.pt`` of a run loads into the
    researcher's factory model unchanged.
    """

    def __init__(self, model: nn.Module, sample_rate: int, window: int) -> None:
        import julius

        super().__init__()
        self.model = model
        self.resample = julius.ResampleFrac(pp.SAMPLE_RATE, sample_rate)
        self.sample_rate, self.window = sample_rate, window

    def front_end(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, 8000)`` at 8 kHz -> ``(B, 1, window)`` at the model's rate."""
        resampled = self.resample(x, output_length=self.sample_rate * pp.WINDOW // pp.SAMPLE_RATE)
        pad = self.window - resampled.shape[-1]
        return nn.functional.pad(resampled, (pad // 2, pad - pad // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(self.front_end(x))

    def state_dict(self, *args: Any, **kwargs: Any) -> Any:  # noqa: D102 - see the class
        return self.model.state_dict(*args, **kwargs)

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False) -> Any:  # noqa: D102
        return self.model.load_state_dict(state_dict, strict=strict, assign=assign)


def build_own_model(spec: dict[str, Any]) -> nn.Module:
    """The described network, with its starting weights; its output shape checked.

    Raises :class:`UserError` naming the description file and field when the factory
    cannot be imported or called, a file cannot be loaded, or the model does not map one
    input of the declared front end to one logit per label.
    """
    where = spec.get("description_file", "model description")
    model = _script(spec, where) if "torchscript" in spec else _factory_model(spec, where)
    if "weights" in spec:
        _load_weights(model, spec["weights"], where)
    check_output_shape(model, spec, where)
    model = model.float()
    if (spec["sample_rate"], spec["window_samples"]) != (pp.SAMPLE_RATE, pp.WINDOW):
        return AtModelRate(model, spec["sample_rate"], spec["window_samples"])
    return model


def require_weights(spec: dict[str, Any], path: Path) -> None:
    """Refuse a description with no trained weights (``train --no-train`` evaluates them).

    A TorchScript file holds its weights; a factory's model needs ``weights``.
    """
    if "weights" not in spec and "torchscript" not in spec:
        raise UserError(
            f"{path}: --no-train evaluates the description's weights, and it names none; "
            'add "weights" (a file of torch.save(model.state_dict())) or train without --no-train'
        )


def _load_weights(model: nn.Module, weights: str, where: str) -> None:
    """Load a state dict into ``model``; one line naming the file and the first key that does not fit."""
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{where}: weights {weights}: cannot load ({_first_line(exc)})") from None
    if not isinstance(state, dict):
        raise UserError(
            f"{where}: weights {weights}: holds a {type(state).__name__}, not a state dict "
            "(save it with torch.save(model.state_dict(), path))"
        )
    mismatch = _first_mismatch(model.state_dict(), state)
    if mismatch is not None:
        raise UserError(f"{where}: weights {weights}: do not fit the model ({mismatch})")
    try:
        model.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise UserError(f"{where}: weights {weights}: cannot load ({_first_line(exc)})") from None


def _first_mismatch(expected: dict[str, Any], given: dict[str, Any]) -> str | None:
    """The first key of ``expected`` that ``given`` lacks or shapes differently, else its first extra key."""
    for key, tensor in expected.items():
        if key not in given:
            return f"missing key {key!r}"
        shape = getattr(given[key], "shape", None)
        if shape is None or tuple(shape) != tuple(tensor.shape):
            got = "no tensor" if shape is None else f"shape {tuple(shape)}"
            return f"key {key!r}: {got}, the model's is {tuple(tensor.shape)}"
    extra = [key for key in given if key not in expected]
    return f"unexpected key {extra[0]!r}" if extra else None


def _factory_model(spec: dict[str, Any], where: str) -> nn.Module:
    module_name, _, function = spec["factory"].rpartition(":")
    try:
        module = _import(module_name)
        factory = getattr(module, function)
    except (ImportError, AttributeError, OSError, SyntaxError) as exc:
        raise UserError(
            f"{where}: factory {spec['factory']!r} cannot be imported ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    try:
        model = factory(**spec.get("factory_kwargs", {}))
    except Exception as exc:  # the researcher's code: any failure is reported the same way
        raise UserError(
            f"{where}: factory {spec['factory']!r} failed ({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    if not isinstance(model, nn.Module):
        raise UserError(
            f"{where}: factory {spec['factory']!r} returned {type(model).__name__}, not a torch.nn.Module"
        )
    return model


def _import(module_name: str) -> Any:
    """A module by dotted name, or from a ``.py`` file (the researcher's own folder)."""
    if not module_name.endswith(".py"):
        return importlib.import_module(module_name)
    path = Path(module_name)
    if not path.is_file():
        raise ImportError(f"no file {path}")
    name = f"hearxai_own_model_{path.stem}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    loader_spec.loader.exec_module(module)
    return module


def _script(spec: dict[str, Any], where: str) -> nn.Module:
    try:
        return torch.jit.load(spec["torchscript"], map_location="cpu")
    except (OSError, RuntimeError, ValueError) as exc:
        raise UserError(
            f"{where}: torchscript {spec['torchscript']}: cannot load ({_first_line(exc)})"
        ) from None


def check_output_shape(model: nn.Module, spec: dict[str, Any], where: str) -> None:
    """One silent input of the declared front end must give ``(1, len(labels))`` logits."""
    shape = (1, 1, *declared_input_shape(spec))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(shape))
    except Exception as exc:  # the researcher's forward: any failure means "does not fit"
        raise UserError(
            f"{where}: the model fails on a {spec['input']} input of shape {tuple(shape)} "
            f"({type(exc).__name__}: {_first_line(exc)})"
        ) from None
    finally:
        model.train(was_training)
    expected = (1, len(spec["labels"]))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != expected:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise UserError(
            f"{where}: the model returns {got} for a {spec['input']} input of shape "
            f"{tuple(shape)}; expected {expected} (one logit per label)"
        )


def declared_input_shape(spec: dict[str, Any]) -> tuple[int, ...]:
    """The shape of one input the model reads, without the channel axis."""
    if spec["input"] == "waveform":
        return (spec["window_samples"],)
    return pp.input_shape(spec["input"])


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def build_network(config: dict[str, Any]) -> nn.Module:
    """The (untrained, or starting-weights) network a run configuration describes."""
    from explainer.models import build_model
    from explainer.train_config import classes_of

    if config.get("model_spec"):
        return build_own_model(config["model_spec"])
    return build_model(
        config["architecture"],
        len(classes_of(config)),
        config["width"],
        dropout=config.get("dropout", 0.5),
    )
