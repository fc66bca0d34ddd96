"""train runs the doctor's checks first: warnings by default, errors with --strict.

Plumbing with a tiny randomly initialised model.
"""

from __future__ import annotations

import pytest

from headstart.classify.fit import fit
from headstart.errors import HeadstartError
from tests.conftest import make_folder, tiny_config


def _few_images(tmp_path):
    return make_folder(tmp_path / "d", n_train=3, n_val=2)


def test_warnings_are_printed_and_training_goes_on(tmp_path, capsys):
    data = _few_images(tmp_path)
    result = fit(
        data, tiny_config(strategy="feature-extraction", epochs=1, out=str(tmp_path / "r"))
    )
    assert result.history
    err = capsys.readouterr().err
    assert "warning: [few-images]" in err


def test_strict_turns_warnings_into_errors(tmp_path):
    data = _few_images(tmp_path)
    cfg = tiny_config(strategy="feature-extraction", epochs=1, strict=True, out=str(tmp_path / "r"))
    with pytest.raises(HeadstartError, match="before training"):
        fit(data, cfg)
    assert not (tmp_path / "r").exists()
