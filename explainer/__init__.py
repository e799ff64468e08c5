"""Offline half of the platform: data, models, relevance and stimulus bundles.

Importing the package itself stays cheap and torch-free, so that the command line
can report a bad argument before torch loads.
"""

__version__ = "0.1.0"
