"""The paper's two networks, layer for layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from explainer.models import AlexNet, AudioNet, build_model


def _layers(model: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


def test_audionet_has_the_papers_layers() -> None:
    model = AudioNet(n_classes=10)
    convs = _layers(model, nn.Conv1d)
    assert [c.out_channels for c in convs] == [100, 64, 128, 128, 128, 128]
    assert {c.kernel_size for c in convs} == {(3,)} and convs[0].padding == (1,)
    pools = _layers(model, nn.MaxPool1d)
    assert [(p.kernel_size, p.stride) for p in pools] == [(3, 2)] + [(2, 2)] * 5
    linears = _layers(model, nn.Linear)
    assert [lin.out_features for lin in linears] == [1024, 512, 10]
    assert [d.p for d in _layers(model, nn.Dropout)] == [0.5, 0.5]


def test_alexnet_has_the_papers_layers_without_local_response_normalisation() -> None:
    model = AlexNet(n_classes=2)
    convs = _layers(model, nn.Conv2d)
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert (convs[0].kernel_size, convs[0].stride) == ((11, 11), (4, 4))
    assert [lin.out_features for lin in _layers(model, nn.Linear)] == [1024, 1024, 2]
    assert not _layers(model, nn.LocalResponseNorm)


def _conv(c_in: int, c_out: int, k: int, groups: int = 1) -> int:
    return c_out * (c_in // groups) * k + c_out


def test_the_parameter_counts_match_a_count_by_hand() -> None:
    # AudioNet: the feature map is 128 channels x 124 samples (8000 -> 3999 -> /2 five times).
    audionet = (
        _conv(1, 100, 3)
        + _conv(100, 64, 3)
        + _conv(64, 128, 3)
        + 3 * _conv(128, 128, 3)
        + (128 * 124 + 1) * 1024
        + (1024 + 1) * 512
        + (512 + 1) * 10
    )
    # AlexNet: 227 -> 55 -> 27 -> 27 -> 13 -> 13 -> 6 spatially.
    alexnet = (
        _conv(1, 96, 121)
        + _conv(96, 256, 25, 2)
        + _conv(256, 384, 9)
        + _conv(384, 384, 9, 2)
        + _conv(384, 256, 9, 2)
        + (256 * 36 + 1) * 1024
        + (1024 + 1) * 1024
        + (1024 + 1) * 10
    )
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(AudioNet(10)) == audionet
    assert count(AlexNet(10)) == alexnet


@pytest.mark.parametrize(
    ("name", "shape"), [("audionet", (3, 1, 8000)), ("alexnet", (3, 1, 227, 227))]
)
@pytest.mark.parametrize("n_classes", [10, 2])
def test_the_networks_return_logits_for_each_class(
    name: str, shape: tuple[int, ...], n_classes: int
) -> None:
    torch.manual_seed(0)
    model = build_model(name, n_classes, width=0.125).eval()
    with torch.no_grad():
        out = model(torch.randn(*shape))
    assert out.shape == (3, n_classes)
    # Logits, not probabilities: no softmax inside.
    assert not torch.allclose(out.sum(dim=1), torch.ones(3))
    assert not isinstance(list(model.modules())[-1], nn.Softmax)


def test_width_scales_channels_but_keeps_the_layer_structure() -> None:
    small, full = AudioNet(10, width=0.25), AudioNet(10)
    assert [type(m) for m in small.modules()] == [type(m) for m in full.modules()]
    assert [c.out_channels for c in _layers(small, nn.Conv1d)] == [25, 16, 32, 32, 32, 32]


def test_build_model_rejects_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="unknown model 'resnet'"):
        build_model("resnet", 10)
