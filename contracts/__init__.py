"""The two file formats that connect the parts of the platform.

``contracts.bundle_format`` (the stimulus bundle, written by ``explainer`` and read
by ``studyapp``) and ``contracts.export_format`` (the export, written by
``studyapp`` and read by ``analysis``) live here, in a package of their own, so
that no product package has to install another just to reach one module: the
web image carries ``contracts`` and ``studyapp`` but not ``explainer``, and the
analysis install carries ``contracts`` and ``analysis`` but not Django. The
package imports only the standard library and the small libraries every part
already needs (jsonschema, numpy, soundfile); ``tests/test_package_boundaries.py``
checks that.
"""
