"""What a bundle's manifest says about its pictures, read without loading the whole manifest."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from studyapp.models import Bundle


@dataclass(frozen=True)
class BundlePictures:
    """What the manifest says about a bundle's pictures (empty values where it says nothing)."""

    colormap: str  # name of the visual explanations' colour map
    colours: tuple[str, ...]  # its colours from the negative to the positive end
    input: str  # "waveform" or "spectrogram": what the pictures show
    sample_rate: int  # Hz, of the audio the pictures show


_PICTURE_KEYS = (
    "manifest__rendering__visual__colormap",
    "manifest__rendering__visual__colormap_colours",
    "manifest__model__input",
    "manifest__audio__sample_rate",
)


@lru_cache(maxsize=512)
def _pictures(bundle_id: int, manifest_sha256: str) -> BundlePictures:
    # Keyed by content hash as well: a bundle never changes, but a test database may reuse an id.
    found = Bundle.objects.filter(pk=bundle_id).values_list(*_PICTURE_KEYS).first()
    return _pictures_of(*(found or (None,) * len(_PICTURE_KEYS)))


def _pictures_of(colormap: object, colours: object, input: object, rate: object) -> BundlePictures:
    return BundlePictures(
        colormap=colormap if isinstance(colormap, str) else "",
        colours=tuple(str(c) for c in colours) if isinstance(colours, list) else (),
        input=input if isinstance(input, str) else "",
        sample_rate=rate if isinstance(rate, int) else 0,
    )


def bundle_pictures(bundle: Bundle) -> BundlePictures:
    """The bundle's picture facts, read without loading the (possibly large) manifest."""
    if "manifest" not in bundle.get_deferred_fields():
        visual = (bundle.manifest.get("rendering") or {}).get("visual") or {}
        return _pictures_of(
            visual.get("colormap"),
            visual.get("colormap_colours"),
            (bundle.manifest.get("model") or {}).get("input"),
            (bundle.manifest.get("audio") or {}).get("sample_rate"),
        )
    return _pictures(bundle.pk, bundle.manifest_sha256)


def bundle_colormap(bundle: Bundle) -> str:
    """The colour map of the bundle's visual explanations (``""`` if the manifest names none)."""
    return bundle_pictures(bundle).colormap
