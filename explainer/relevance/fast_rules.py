"""Faster LRP rules, written inside zennit's rule/hook API and equal to its stock rules.

Stock zennit rules (``zennit.rules``) attach to every layer and, on the way back, clone
the layer input, re-run the layer's forward once per branch, let autograd compute the
ordinary input gradient that the hook then throws away, and evaluate branches that are
all zeros. These rules give the same relevance (tested to 1e-6 in float64 against
stock zennit on AudioNet and AlexNet) with less work:

* one autograd node per layer (:class:`_LayerRelevance`): the layer's ordinary backward
  never runs, and its forward runs once, on a detached input, with no clone;
* the layer's output is kept from the forward pass instead of being recomputed (the
  epsilon rule needs nothing else, the gamma rule's sign mask likewise);
* branches whose input is all zeros are skipped: after a ReLU the negative part of the
  input is zero, so ``z+`` and friends need one branch instead of two;
* the gamma rule's branch for negative outputs is skipped when no relevance arrives
  there (the next layer's rule multiplies by a ReLU output, which is zero there);
* branches that remain are stacked along output channels and run as one call;
* the flat rule's output depends only on the input's shape, so it is computed once.

Activations get no hook at all in :mod:`explainer.relevance.composites` (stock zennit
gives them ``Pass``). That is exact here because every rule above a ReLU multiplies its
relevance by its input, so relevance at a unit the ReLU switched off is already zero and
the ReLU's ordinary gradient passes it on unchanged.

Not supported, with an error rather than a wrong answer (use ``implementation="zennit"``):
``create_graph`` (second-order gradients), in-place operations on a hooked layer's output
(autograd refuses them), ``zero_params``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from zennit.core import Hook, RemovableHandle, RemovableHandleList, Stabilizer, expand

from explainer.relevance import layers


class _LayerRelevance(torch.autograd.Function):
    """Identity on the layer output whose backward is the rule's relevance map."""

    @staticmethod
    def forward(
        ctx: Any, x: torch.Tensor, z: torch.Tensor, rule: FastRule, module: torch.nn.Module
    ) -> torch.Tensor:
        ctx.rule, ctx.module = rule, module
        ctx.save_for_backward(x, z)
        return z

    @staticmethod
    def backward(ctx: Any, relevance: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        if torch.is_grad_enabled():
            raise RuntimeError(
                "fast LRP rules do not support create_graph; use implementation='zennit'"
            )
        x, z = ctx.saved_tensors
        return ctx.rule.relevance(ctx.module, x, z, relevance), None, None, None


class FastRule(Hook):
    """Base of the fast rules: register, keep the input, route the backward to :meth:`relevance`."""

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.params = params

    def copy(self) -> FastRule:
        return type(self)(**self.params)

    def register(self, module: torch.nn.Module) -> RemovableHandleList:
        layers.check_supported(module)
        return RemovableHandleList(
            [
                RemovableHandle(self),
                module.register_forward_pre_hook(self._pre_forward),
                module.register_forward_hook(self._post_forward),
            ]
        )

    def _pre_forward(
        self, module: torch.nn.Module, args: tuple[Any, ...]
    ) -> tuple[Any, ...] | None:
        x = args[0]
        if not (self.active and torch.is_grad_enabled() and x.requires_grad):
            self.stored_tensors.pop("input", None)
            return None
        self.stored_tensors["input"] = x
        # Detached, so the layer's own forward builds no graph autograd would walk back.
        return (x.detach(), *args[1:])

    def _post_forward(
        self, module: torch.nn.Module, args: tuple[Any, ...], output: torch.Tensor
    ) -> torch.Tensor | None:
        x = self.stored_tensors.pop("input", None)
        if x is None:
            return None
        return _LayerRelevance.apply(x, output.detach(), self, module)

    def relevance(
        self, module: torch.nn.Module, x: torch.Tensor, z: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        """Relevance of the layer input ``x`` given output ``z`` and output relevance ``r``."""
        raise NotImplementedError


def _stabilizer(value: Any) -> Any:
    return Stabilizer.ensure(value)


def divide_stabilized_(
    numerator: torch.Tensor, denominator: torch.Tensor, stabilizer: Any
) -> torch.Tensor:
    """``numerator / stabilize(denominator)``, written into ``denominator`` (which it owns).

    For a float stabilizer this is zennit's ``z + eps * sign(z)`` (sign of 0 taken as +1)
    in three passes and one temporary: ``copysign(|z| + eps, z)``. (The two differ only
    for ``z = -0.0``, which a sum gives only when every contribution is zero, so the
    relevance it scales is zero either way.)
    """
    if isinstance(stabilizer, int | float):
        magnitude = denominator.abs()
        magnitude.add_(float(stabilizer))
        torch.copysign(magnitude, denominator, out=denominator)
    else:
        denominator.copy_(Stabilizer.ensure(stabilizer)(denominator))
    return torch.div(numerator, denominator, out=denominator)


def input_signs(x: torch.Tensor) -> str:
    """``"nonneg"``, ``"nonpos"`` or ``"mixed"``: which halves of ``x`` can be non-zero."""
    low, high = torch.aminmax(x)
    if low >= 0:
        return "nonneg"
    if high <= 0:
        return "nonpos"
    return "mixed"


def _clamp(t: torch.Tensor | None, **bounds: float) -> torch.Tensor | None:
    return None if t is None else t.clamp(**bounds)


def _groups(module: torch.nn.Module) -> int:
    return getattr(module, "groups", 1)


def _stack(weights: list[torch.Tensor], groups: int) -> torch.Tensor:
    return weights[0] if len(weights) == 1 else layers.stack_out(weights, groups)


def _stack_bias(
    biases: list[torch.Tensor | None], weights: list[torch.Tensor], groups: int
) -> torch.Tensor | None:
    if all(b is None for b in biases):
        return None
    filled = [
        b if b is not None else w.new_zeros(w.shape[0])
        for b, w in zip(biases, weights, strict=True)
    ]
    return filled[0] if len(filled) == 1 else layers.stack_bias(filled, groups)


def per_branch(t: torch.Tensor, n_branches: int, groups: int) -> torch.Tensor:
    """View of a stacked output ``(B, n*C, ...)`` as ``(B, groups, n, C/groups, ...)`` (no copy).

    A per-branch tensor ``(B, C, ...)`` viewed with ``n_branches=1`` broadcasts against it.
    """
    channels = t.shape[1] // n_branches
    return t.view(t.shape[0], groups, n_branches, channels // groups, *t.shape[2:])


@dataclass(frozen=True)
class Branch:
    """One branch of a two-sided rule: ``w_pos @ x+ + w_neg @ x- + bias``, scaled by ``scale``
    on the way back (alpha and -beta for alpha-beta, 1 elsewhere)."""

    w_pos: torch.Tensor
    bias: torch.Tensor | None
    w_neg: torch.Tensor
    scale: float = 1.0


def branch_outputs(
    module: torch.nn.Module, x: torch.Tensor, branches: list[Branch], signs: str
) -> torch.Tensor:
    """Outputs of all branches in one call, stacked along channels as :func:`layers.stack_out`.

    For inputs of mixed sign, ``x+`` and ``x-`` are stacked along input channels (with
    ``[w_pos, w_neg]`` weights), so the sum over both halves happens inside the call.
    """
    groups = _groups(module)
    bias = _stack_bias([b.bias for b in branches], [b.w_pos for b in branches], groups)
    if signs != "mixed":
        weight = _stack([b.w_pos if signs == "nonneg" else b.w_neg for b in branches], groups)
        return layers.forward(module, x, weight, bias)
    if groups == 1:
        both = torch.cat([x.clamp(min=0), x.clamp(max=0)], dim=1)
        return layers.forward(
            module, both, _stack([torch.cat([b.w_pos, b.w_neg], 1) for b in branches], 1), bias
        )
    out = layers.forward(module, x.clamp(min=0), _stack([b.w_pos for b in branches], groups), bias)
    return out.add_(
        layers.forward(module, x.clamp(max=0), _stack([b.w_neg for b in branches], groups), None)
    )


def branch_relevance(
    module: torch.nn.Module, x: torch.Tensor, branches: list[Branch], grad: torch.Tensor, signs: str
) -> torch.Tensor:
    """``x+ sum_k scale_k T(w_pos_k, g_k) + x- sum_k scale_k T(w_neg_k, g_k)`` in one transposed call.

    ``grad`` holds every branch's ``g_k`` stacked as :func:`branch_outputs` stacks outputs;
    the scales are folded into the (small) weights rather than the (large) gradients.
    """
    groups = _groups(module)
    pos = [b.w_pos * b.scale if b.scale != 1 else b.w_pos for b in branches]
    neg = [b.w_neg * b.scale if b.scale != 1 else b.w_neg for b in branches]
    if signs != "mixed":
        return x * layers.transpose(
            module, x, _stack(pos if signs == "nonneg" else neg, groups), grad
        )
    x_pos, x_neg = x.clamp(min=0), x.clamp(max=0)
    if groups == 1:
        weight = _stack([torch.cat([p, n], dim=1) for p, n in zip(pos, neg, strict=True)], 1)
        g_pos, g_neg = layers.transpose(module, torch.cat([x_pos, x_neg], 1), weight, grad).split(
            x.shape[1], dim=1
        )
    else:
        g_pos = layers.transpose(module, x, _stack(pos, groups), grad)
        g_neg = layers.transpose(module, x, _stack(neg, groups), grad)
    return x_pos.mul_(g_pos).add_(x_neg.mul_(g_neg))


def two_sided_relevance(
    module: torch.nn.Module,
    x: torch.Tensor,
    r: torch.Tensor,
    branches: list[Branch],
    stabilizer: Any,
    masks: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Relevance of a rule made of ``branches``, each normalised by its own output.

    ``g_k = r * mask_k / stabilize(z_k)``, computed in place on the stacked outputs.
    """
    signs, groups, n = input_signs(x), _groups(module), len(branches)
    out = branch_outputs(module, x, branches, signs)
    grads = per_branch(out, n, groups)
    divide_stabilized_(per_branch(r, 1, groups), grads, stabilizer)
    for k, mask in enumerate(masks or []):
        grads[:, :, k].mul_(per_branch(mask, 1, groups)[:, :, 0])
    return branch_relevance(module, x, branches, out, signs)


class Epsilon(FastRule):
    """LRP-epsilon, equal to :class:`zennit.rules.Epsilon` (``epsilon=0`` is LRP-0)."""

    def __init__(self, epsilon: float = 1e-6) -> None:
        super().__init__(epsilon=epsilon)

    def relevance(
        self, module: torch.nn.Module, x: torch.Tensor, z: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        # z is the layer's own output, kept from the forward pass (and no longer needed).
        grad = divide_stabilized_(r, z.clone(), self.params["epsilon"])
        return x * layers.transpose(module, x, module.weight, grad)


class ZPlus(FastRule):
    """LRP z+, equal to :class:`zennit.rules.ZPlus`."""

    def __init__(self, stabilizer: float = 1e-6) -> None:
        super().__init__(stabilizer=stabilizer)

    def relevance(
        self, module: torch.nn.Module, x: torch.Tensor, z: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        w = module.weight
        branches = [Branch(w.clamp(min=0), _clamp(module.bias, min=0), w.clamp(max=0))]
        return two_sided_relevance(module, x, r, branches, self.params["stabilizer"])


class AlphaBeta(FastRule):
    """LRP alpha-beta, equal to :class:`zennit.rules.AlphaBeta`."""

    def __init__(self, alpha: float = 2.0, beta: float = 1.0, stabilizer: float = 1e-6) -> None:
        if alpha < 0 or beta < 0 or alpha - beta != 1.0:
            raise ValueError("alpha and beta must be non-negative with alpha - beta = 1")
        super().__init__(alpha=alpha, beta=beta, stabilizer=stabilizer)

    def relevance(
        self, module: torch.nn.Module, x: torch.Tensor, z: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        w, b = module.weight, module.bias
        w_pos, w_neg = w.clamp(min=0), w.clamp(max=0)
        branches = [
            Branch(w_pos, _clamp(b, min=0), w_neg, self.params["alpha"]),
            Branch(w_neg, _clamp(b, max=0), w_pos, -self.params["beta"]),
        ]
        return two_sided_relevance(module, x, r, branches, self.params["stabilizer"])


class Gamma(FastRule):
    """Generalised LRP-gamma, equal to :class:`zennit.rules.Gamma`."""

    def __init__(self, gamma: float = 0.25, stabilizer: float = 1e-6) -> None:
        super().__init__(gamma=gamma, stabilizer=stabilizer)

    def relevance(
        self, module: torch.nn.Module, x: torch.Tensor, z: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        gamma, w, b = self.params["gamma"], module.weight, module.bias
        w_up, w_down = w + gamma * w.clamp(min=0), w + gamma * w.clamp(max=0)
        up = Branch(w_up, None if b is None else b + gamma * b.clamp(min=0), w_down)
        down = Branch(w_down, None if b is None else b + gamma * b.clamp(max=0), w_up)
        # Each side takes the relevance of outputs of its sign (z, kept from the forward
        # pass). A side that receives none, as the negative side after a ReLU, is skipped.
        sides = [(up, z > 0), (down, z < 0)]
        sides = [(branch, mask) for branch, mask in sides if bool((r * mask).any())] or sides[:1]
        return two_sided_relevance(
            module, x, r, [s[0] for s in sides], self.params["stabilizer"], [s[1] for s in sides]
        )


class Flat(FastRule):
    """LRP flat, equal to :class:`zennit.rules.Flat`: relevance spread uniformly over the receptive field."""

    def __init__(self, stabilizer: float = 1e-6) -> None:
        super().__init__(stabilizer=stabilizer)
        self.stabilize = _stabilizer(stabilizer)
        self._denominators: dict[tuple[Any, ...], torch.Tensor] = {}

    def _denominator(self, module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Output of the layer with all weights and inputs one: a count of the receptive field.

        It depends only on the input shape and is the same in every output channel, so it
        is computed once, for one sample and one channel per group.
        """
        key = (tuple(x.shape[1:]), x.dtype, x.device)
        if key not in self._denominators:
            ones = x.new_ones((1, *x.shape[1:]))
            weight = module.weight.new_ones((_groups(module), *module.weight.shape[1:]))
            self._denominators[key] = self.stabilize(layers.forward(module, ones, weight, None))
        return self._denominators[key]

    def relevance(
        self, module: torch.nn.Module, x: torch.Tensor, z: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        groups = _groups(module)
        # Every output channel has the same all-ones weight and denominator, so sum first.
        per_group = r.reshape(r.shape[0], groups, -1, *r.shape[2:]).sum(dim=2)
        weight = module.weight.new_ones((groups, *module.weight.shape[1:]))
        return layers.transpose(module, x, weight, per_group.div_(self._denominator(module, x)))


class ZBox(FastRule):
    """LRP z-box for bounded inputs, equal to :class:`zennit.rules.ZBox`.

    ``low`` and ``high`` are scalars or tensors broadcastable to the input (for example
    per-sample bounds of shape ``(batch, 1, 1)``).
    """

    def __init__(self, low: Any, high: Any, stabilizer: float = 1e-6) -> None:
        super().__init__(low=low, high=high, stabilizer=stabilizer)

    def _bounds(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        low = expand(self.params["low"], x.shape, cut_batch_dim=True).to(x)
        high = expand(self.params["high"], x.shape, cut_batch_dim=True).to(x)
        return low, high

    def relevance(
        self, module: torch.nn.Module, x: torch.Tensor, z: torch.Tensor, r: torch.Tensor
    ) -> torch.Tensor:
        w, b = module.weight, module.bias
        w_pos, w_neg = w.clamp(min=0), w.clamp(max=0)
        low, high = self._bounds(x)
        stacked = _groups(module) == 1 and not isinstance(module, torch.nn.Linear)
        if stacked:
            # Both bound terms in one call, stacked along input channels (b+ + b- = b).
            bounds = layers.forward(
                module, torch.cat([low, high], 1), torch.cat([w_pos, w_neg], 1), b
            )
        else:
            bounds = layers.forward(module, low, w_pos, _clamp(b, min=0))
            bounds.add_(layers.forward(module, high, w_neg, _clamp(b, max=0)))
        s = divide_stabilized_(r, torch.sub(z, bounds, out=bounds), self.params["stabilizer"])
        if stacked:
            grads = layers.transpose(
                module, torch.cat([x, low, high], 1), torch.cat([w, w_pos, w_neg], 1), s
            )
            g_x, g_low, g_high = grads.split(x.shape[1], dim=1)
        else:
            g_x, g_low, g_high = (
                layers.transpose(module, x, weight, s) for weight in (w, w_pos, w_neg)
            )
        return x * g_x - (low * g_low + high * g_high)
