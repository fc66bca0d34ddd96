"""Preprocessing checks: normalization, input size, random steps in the eval transform.

Transforms only, no model: each tutorial mistake, built by hand, must be named; the transforms
headstart builds from a backbone's config must pass clean. The configs come from timm's
pretrained configs read from the model instances (random weights: nothing is downloaded).
"""

from __future__ import annotations

import random

import pytest
import torch
from torchvision import transforms as T

from headstart.backbones import load_backbone
from headstart.data.transforms import eval_transform, train_transform
from headstart.doctor import check_eval_deterministic, check_input_size, check_normalization
from tests.conftest import TINY

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


@pytest.fixture(scope="module")
def lite0() -> dict:
    cfg = load_backbone("tf_efficientnet_lite0", "random").data_config
    assert cfg["mean"] == (0.5, 0.5, 0.5) and cfg["input_size"] == (3, 224, 224)
    return cfg


@pytest.fixture(scope="module")
def tiny() -> dict:
    return load_backbone(TINY, "random").data_config


def tutorial(mean=IMAGENET_MEAN, std=IMAGENET_STD, size=224, first=()) -> T.Compose:
    return T.Compose(
        [*first, T.Resize(size * 8 // 7), T.CenterCrop(size), T.ToTensor(), T.Normalize(mean, std)]
    )


def codes(findings) -> list[str]:
    return [f.code for f in findings]


def test_imagenet_numbers_for_lite0_are_named(lite0):
    (f,) = check_normalization(tutorial(), lite0, "eval", "tf_efficientnet_lite0")
    assert (f.code, f.level) == ("normalization", "error")
    assert "ImageNet" in f.message and "mean (0.5, 0.5, 0.5)" in f.message
    assert "tf_efficientnet_lite0" in f.message and "eval_transform" in f.message


def test_missing_normalization_is_named(lite0):
    tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor()])
    (f,) = check_normalization(tf, lite0)
    assert f.code == "normalization" and "does not normalize" in f.message


def test_normalization_without_a_normalize_step_is_measured(lite0):
    """A hand-written normalization is judged by what it does, not by its class."""
    wrong = T.Compose(
        [T.Resize(224), T.CenterCrop(224), T.ToTensor(), T.Lambda(lambda x: (x - 0.45) / 0.25)]
    )
    (f,) = check_normalization(wrong, lite0)
    assert "mean (0.45, 0.45, 0.45), std (0.25, 0.25, 0.25)" in f.message
    right = T.Compose(
        [T.Resize(224), T.CenterCrop(224), T.ToTensor(), T.Lambda(lambda x: x * 2 - 1)]
    )
    assert check_normalization(right, lite0) == []


def test_normalizing_twice_is_named(lite0):
    tf = T.Compose(
        [
            T.Resize(224),
            T.CenterCrop(224),
            T.ToTensor(),
            T.Normalize((0.5,) * 3, (0.5,) * 3),
            T.Normalize((0.5,) * 3, (0.5,) * 3),
        ]
    )
    assert codes(check_normalization(tf, lite0)) == ["normalization"]


def test_smaller_input_size_is_named(lite0):
    (f,) = check_input_size(tutorial(mean=(0.5,) * 3, std=(0.5,) * 3, size=160), lite0)
    assert (f.code, f.level) == ("input-size", "warning")
    assert "160x160" in f.message and "224x224" in f.message


def test_no_resize_is_named(lite0):
    tf = T.Compose([T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])
    (f,) = check_input_size(tf, lite0)
    assert f.code == "input-size" and "no fixed output size" in f.message


def test_grayscale_input_is_named(lite0):
    tf = tutorial(mean=(0.5,), std=(0.5,), first=(T.Grayscale(),))
    (f,) = check_input_size(tf, lite0)
    assert (f.code, f.level) == ("input-size", "error") and "1-channel" in f.message


def test_random_resized_crop_in_eval_is_named(lite0):
    tf = T.Compose([T.RandomResizedCrop(224), T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])
    (f,) = check_eval_deterministic(tf)
    assert (f.code, f.level) == ("random-eval-transform", "error")
    assert "RandomResizedCrop" in f.message


def test_random_step_hidden_in_a_lambda_is_found_by_running_it(lite0):
    tf = T.Compose(
        [
            T.Lambda(lambda im: im.rotate(random.uniform(-15, 15))),
            tutorial(mean=(0.5,) * 3, std=(0.5,) * 3),
        ]
    )
    py, th = random.getstate(), torch.get_rng_state()
    assert codes(check_eval_deterministic(tf)) == ["random-eval-transform"]
    assert random.getstate() == py and torch.equal(torch.get_rng_state(), th)


def test_transform_that_returns_no_tensor_is_reported(lite0):
    (f,) = check_normalization(T.Compose([T.Resize(224)]), lite0)
    assert f.code == "transform-probe" and "not a tensor" in f.message


@pytest.mark.parametrize("which", ["lite0", "tiny"])
@pytest.mark.parametrize("augment", ["none", "light", "standard"])
def test_headstart_transforms_pass_clean(which, augment, request):
    cfg = request.getfixturevalue(which)
    ev, tr = eval_transform(cfg), train_transform(cfg, augment)
    for tf in (ev, tr):
        assert check_normalization(tf, cfg) == []
        assert check_input_size(tf, cfg) == []
    assert check_eval_deterministic(ev) == []
    # the same check does see the augmentation of a train transform
    assert codes(check_eval_deterministic(tr, "train")) == (
        [] if augment == "none" else ["random-eval-transform"]
    )
