"""The tiny trained image run and its int8 export (``tests/deploy_helpers.py``)."""

from tests.deploy_helpers import image_export, image_run  # noqa: F401 - fixtures
