"""Correctness of the explanation methods on the paper's two networks (small widths, float64)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explainer.models import build_model
from explainer.relevance import explain, get_method, method_names
from explainer.relevance.composites import build_composite

LRP = method_names("lrp")
ALL_METHODS = method_names()
IMPLEMENTATIONS = ("fast", "zennit")
# Exact rule parameters for the identities: no stabiliser worth the name.
EXACT = {"lrp-epsilon": {"epsilon": 1e-12}}
for _name in LRP:
    EXACT.setdefault(_name, {"epsilon": 1e-12, "stabilizer": 1e-12})


def small_model(architecture: str, *, seed: int = 0, bias: bool = True) -> nn.Module:
    torch.manual_seed(seed)
    model = build_model(architecture, 10, 0.125).double().eval()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv1d | nn.Conv2d | nn.Linear):
                # Scaled so activations neither vanish nor explode through the layers.
                fan_in = module.weight[0].numel()
                module.weight.normal_(0, (2.0 / fan_in) ** 0.5)
                if module.bias is not None:
                    module.bias.normal_(0, 0.05) if bias else module.bias.zero_()
    return model


def inputs_for(architecture: str, n: int = 2, *, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if architecture == "audionet":
        x = torch.zeros(n, 1, 8000, dtype=torch.float64)
        x[..., 2000:6000] = torch.randn(n, 1, 4000, generator=g, dtype=torch.float64)
        return x
    return -80.0 * torch.rand(n, 1, 227, 227, generator=g, dtype=torch.float64)


ARCHITECTURES = ("audionet", "alexnet")


@pytest.fixture(scope="module", params=ARCHITECTURES)
def net(request: pytest.FixtureRequest) -> tuple[str, nn.Module, torch.Tensor]:
    return request.param, small_model(request.param), inputs_for(request.param)


def close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-6) -> bool:
    """Equal to ``rtol`` relative to the largest magnitude (relevance maps have many zeros)."""
    scale = max(float(b.abs().max()), 1e-30)
    return float((a - b).abs().max()) <= rtol * scale


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_lrp_zero_on_a_relu_network_equals_gradient_times_input(net, implementation):
    _, model, x = net
    lrp0 = explain(
        model, x, "lrp-epsilon", params={"epsilon": 0.0, "implementation": implementation}
    )
    gxi = explain(model, x, "gradient-x-input")
    assert close(lrp0.relevance, gxi.relevance)
    assert float(gxi.relevance.abs().max()) > 0


# alpha2-beta1 is not conservative by design: a unit with no negative contribution (say,
# a first-layer filter with only positive taps) passes on alpha = 2 times its relevance.
CONSERVATIVE = [m for m in LRP if m != "lrp-alpha2-beta1"]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("method", CONSERVATIVE)
def test_lrp_conserves_relevance_on_a_bias_free_network(method, implementation):
    for architecture in ARCHITECTURES:
        model = small_model(architecture, bias=False)
        x = inputs_for(architecture)
        result = explain(
            model, x, method, params={**EXACT[method], "implementation": implementation}
        )
        explained_logit = result.logits.gather(1, result.targets.reshape(-1, 1)).reshape(-1)
        totals = result.relevance.reshape(len(x), -1).sum(dim=1)
        assert torch.allclose(totals, explained_logit, rtol=1e-6, atol=1e-9), (
            architecture,
            totals,
            explained_logit,
        )


@pytest.mark.parametrize("method", LRP)
def test_fast_rules_give_the_same_relevance_as_stock_zennit(net, method):
    architecture, model, x = net
    fast = explain(model, x, method).relevance
    stock = explain(model, x, method, params={"implementation": "zennit"}).relevance
    assert close(fast, stock), float((fast - stock).abs().max())


@pytest.mark.parametrize("method", LRP)
def test_fast_rules_match_stock_zennit_on_inputs_of_both_signs(method):
    # Spectrogram inputs are all <= 0 and waveforms mixed; random normal input on AlexNet
    # exercises the mixed-sign path of every rule on a 2-D first layer too.
    model = small_model("alexnet", seed=3)
    x = torch.randn(2, 1, 227, 227, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    fast = explain(model, x, method).relevance
    stock = explain(model, x, method, params={"implementation": "zennit"}).relevance
    assert close(fast, stock)


def test_fast_rules_match_stock_zennit_on_grouped_first_layers_with_mixed_inputs():
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv1d(2, 6, 3, padding=1, groups=2),
        nn.ReLU(),
        nn.Conv1d(6, 4, 3, groups=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(4 * 30, 5),
    ).double()
    x = torch.randn(3, 2, 32, dtype=torch.float64)
    for method in LRP:
        fast = explain(model, x, method).relevance
        stock = explain(model, x, method, params={"implementation": "zennit"}).relevance
        assert close(fast, stock), method


EXPECTED_RULES = {
    "lrp-epsilon-plus-flat": ("Flat", "ZPlus", "Epsilon"),
    "lrp-epsilon-gamma-box": ("ZBox", "Gamma", "Epsilon"),
    "lrp-alpha2-beta1": ("AlphaBeta", "AlphaBeta", "Epsilon"),
    "lrp-epsilon": ("Epsilon", "Epsilon", "Epsilon"),
}


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("method", LRP)
def test_each_composite_puts_the_intended_rule_on_each_layer(net, method, implementation):
    architecture, model, x = net
    composite = build_composite(
        method, get_method(method).resolve_params(), x, fast=implementation == "fast"
    )
    first, conv, dense = EXPECTED_RULES[method]
    context: dict = {}
    seen_first = False
    for name, module in model.named_modules():
        hook = composite.module_map(context, name, module)
        if isinstance(module, nn.Conv1d | nn.Conv2d):
            assert type(hook).__name__ == (conv if seen_first else first), (name, hook)
            seen_first = True
        elif isinstance(module, nn.Linear):
            assert type(hook).__name__ == dense, (name, hook)
        elif isinstance(module, nn.ReLU):
            # Stock zennit passes relevance through activations; the fast build needs no hook.
            assert (type(hook).__name__ == "Pass") if implementation == "zennit" else hook is None
        else:
            assert hook is None, (name, hook)
    if method == "lrp-alpha2-beta1" and implementation == "fast":
        # (stock zennit keeps alpha and beta in closures; its equivalence test covers them)
        rule = composite.module_map({}, "x", nn.Conv1d(1, 1, 1))
        assert (rule.params["alpha"], rule.params["beta"]) == (2.0, 1.0)


def hook_count(model: nn.Module) -> int:
    return sum(
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    )


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
def test_explaining_leaves_no_hooks_behind_even_after_an_error(net, implementation):
    architecture, model, x = net
    assert hook_count(model) == 0
    for method in LRP:
        explain(model, x[:1], method, params={"implementation": implementation})
        assert hook_count(model) == 0, method
    wrong_shape = (
        torch.zeros(1, 1, 100, dtype=torch.float64)
        if architecture == "audionet"
        else torch.zeros(1, 1, 50, 50, dtype=torch.float64)
    )
    with pytest.raises(RuntimeError):
        explain(
            model, wrong_shape, "lrp-epsilon-plus-flat", params={"implementation": implementation}
        )
    assert hook_count(model) == 0


@pytest.mark.parametrize("method", ALL_METHODS)
def test_one_sample_explained_alone_equals_the_same_sample_in_a_batch(net, method):
    architecture, model, x = net
    params = {
        "integrated-gradients": {"n_steps": 3},
        "smoothgrad": {"n_samples": 2},
        "occlusion": {"window_ms": 200.0, "stride_ms": 100.0},
    }.get(method)
    batch = explain(model, x, method, params=params)
    alone = explain(model, x[1:2], method, params=params)
    assert close(alone.relevance[0], batch.relevance[1])
    assert int(alone.targets[0]) == int(batch.targets[1])


def test_the_model_is_in_eval_mode_while_explained_and_restored_afterwards():
    model = small_model("audionet").train()
    seen = []
    dropout = next(m for m in model.modules() if isinstance(m, nn.Dropout))
    dropout.register_forward_pre_hook(lambda module, args: seen.append(module.training))
    x = inputs_for("audionet", 2)
    first = explain(model, x, "lrp-epsilon-plus-flat").relevance
    second = explain(model, x, "lrp-epsilon-plus-flat").relevance
    assert seen and not any(seen)
    assert torch.equal(first, second)  # dropout off: the same explanation twice
    assert model.training and all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("method", ["lrp-epsilon-plus-flat", "gradient"])
def test_relevance_is_for_the_predicted_class_by_default_or_any_chosen_class(net, method):
    architecture, model, x = net
    default = explain(model, x, method)
    assert torch.equal(default.targets, default.logits.argmax(dim=1))
    other = (default.targets + 1) % 10
    chosen = explain(model, x, method, targets=other)
    assert torch.equal(chosen.targets, other)
    assert not close(chosen.relevance, default.relevance, rtol=1e-3)
    if method == "gradient":
        x_ = x.clone().requires_grad_(True)
        model(x_).gather(1, other.reshape(-1, 1)).sum().backward()
        assert close(chosen.relevance, x_.grad)


def test_smoothgrad_without_noise_is_the_gradient_and_with_noise_is_seeded():
    model, x = small_model("audionet"), inputs_for("audionet", 2)
    plain = explain(model, x, "gradient").relevance
    assert close(
        explain(model, x, "smoothgrad", params={"noise_level": 0.0, "n_samples": 2}).relevance,
        plain,
    )
    a = explain(model, x, "smoothgrad", params={"n_samples": 3, "seed": 1}).relevance
    b = explain(model, x, "smoothgrad", params={"n_samples": 3, "seed": 1}).relevance
    c = explain(model, x, "smoothgrad", params={"n_samples": 3, "seed": 2}).relevance
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_integrated_gradients_add_up_to_the_logit_change_from_silence():
    model, x = small_model("audionet"), inputs_for("audionet", 1)
    result = explain(model, x, "integrated-gradients", params={"n_steps": 48})
    with torch.no_grad():
        change = (
            (model(x) - model(torch.zeros_like(x)))
            .gather(1, result.targets.reshape(-1, 1))
            .reshape(-1)
        )
    totals = result.relevance.reshape(1, -1).sum(dim=1)
    assert torch.allclose(totals, change, rtol=0.05, atol=1e-3 * float(change.abs().max()))


def test_occlusion_gives_each_time_step_the_mean_logit_drop_of_the_windows_covering_it():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(8000, 3)).double()
    x = inputs_for("audionet", 1)
    result = explain(model, x, "occlusion", params={"window_ms": 50.0, "stride_ms": 25.0})
    w = model[1].weight[int(result.targets[0])].detach()
    contribution = w * x.reshape(-1)  # the drop when a sample is silenced
    expected = torch.zeros(8000, dtype=torch.float64)
    count = torch.zeros(8000, dtype=torch.float64)
    for start in range(0, 8000 - 400 + 1, 200):
        expected[start : start + 400] += contribution[start : start + 400].sum()
        count[start : start + 400] += 1
    assert close(result.relevance.reshape(-1), expected / count)


def test_occlusion_on_spectrograms_silences_whole_frames():
    model, x = small_model("alexnet"), inputs_for("alexnet", 1)
    result = explain(model, x, "occlusion", params={"window_ms": 100.0, "stride_ms": 50.0})
    per_frame = result.relevance[0, 0]
    assert torch.equal(per_frame, per_frame[:1].expand_as(per_frame))  # one value per time frame
    assert float(per_frame.abs().max()) > 0


def test_an_unknown_method_or_parameter_is_an_error_naming_the_choices():
    model, x = small_model("audionet"), inputs_for("audionet", 1)
    with pytest.raises(ValueError, match="lrp-epsilon-plus-flat"):
        explain(model, x, "lrp-nonsense")
    with pytest.raises(ValueError, match="no parameter"):
        explain(model, x, "gradient", params={"epsilon": 1.0})
    with pytest.raises(ValueError, match="implementation"):
        explain(model, x, "lrp-epsilon", params={"implementation": "magic"})


def test_every_required_method_is_registered_with_a_description():
    required = {
        "lrp-epsilon-plus-flat",
        "lrp-epsilon-gamma-box",
        "lrp-alpha2-beta1",
        "lrp-epsilon",
        "gradient",
        "gradient-x-input",
        "integrated-gradients",
        "smoothgrad",
        "occlusion",
    }
    assert required <= set(ALL_METHODS)
    assert all(get_method(name).description for name in ALL_METHODS)


def test_fast_rules_refuse_what_they_do_not_support_instead_of_answering_wrongly():
    torch.manual_seed(0)
    x = torch.randn(2, 1, 16, requires_grad=True)
    model = nn.Sequential(nn.Conv1d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 14, 3))
    with build_composite("lrp-epsilon", {"epsilon": 1e-6}, x).context(model):
        with pytest.raises(RuntimeError, match="create_graph"):
            torch.autograd.grad(model(x).sum(), x, create_graph=True)
    in_place = nn.Sequential(
        nn.Conv1d(1, 4, 3), nn.ReLU(inplace=True), nn.Flatten(), nn.Linear(4 * 14, 3)
    )
    with pytest.raises(RuntimeError, match="inplace"):
        explain(in_place, x.detach(), "lrp-epsilon-plus-flat")
    assert (
        explain(
            in_place, x.detach(), "lrp-epsilon-plus-flat", params={"implementation": "zennit"}
        ).relevance.shape
        == x.shape
    )
    from explainer.relevance.fast_rules import Epsilon

    with pytest.raises(TypeError, match="fast LRP rules support"):
        Epsilon().register(nn.AvgPool1d(2))
