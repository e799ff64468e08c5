"""Offline half of the platform: data, models, relevance and stimulus bundles.

Importing the package itself must stay cheap and torch-free, because the web side
imports :mod:`explainer.bundle_format` (the bundle contract) and nothing else.
"""

__version__ = "0.1.0"
