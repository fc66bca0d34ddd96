"""Loaders of image data sets that ship inside pip packages (no download at run time).

Each loader returns ``(train images, train labels, test images, test labels)`` with labels as
indices into the data set's class names; a set without its own test split returns ``None`` for
the last two. Images are a uint8 array ``(n, h, w)`` or :class:`EncodedImages`, the package's
own JPEG / PNG files, which an export copies byte for byte.

The packages are found with ``importlib.util.find_spec`` and read as files: none of them is
imported, so their declared dependencies (TensorFlow, astropy, ...) are not needed.
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import pickle
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from headstart.errors import DataError


class EncodedImages:
    """Image files as their packages ship them: ``names[i]`` read by ``read``; exported as
    ``NNNNN<suffix>`` with the file's own suffix."""

    def __init__(self, names: Sequence[str], read: Callable[[str], bytes]) -> None:
        self.names = list(names)
        self.read = read

    def __len__(self) -> int:
        return len(self.names)

    def suffix(self, i: int) -> str:
        return Path(self.names[i]).suffix.lower()

    def data(self, i: int) -> bytes:
        return self.read(self.names[i])


Images = np.ndarray | EncodedImages
Arrays = tuple[Images, np.ndarray, Images | None, np.ndarray | None]


def package_dir(module: str, what: str, install: str) -> Path:
    """The folder of the installed package ``module``; a one-line error naming ``install`` (the
    pip command that fixes it) when it is missing."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(f"{what} come with {module}; install it with `{install}`")
    return Path(list(spec.submodule_search_locations)[0])


def package_file(module: str, what: str, install: str, *parts: str) -> Path:
    """``parts`` inside the installed package ``module``; an error when the installed version
    lacks it (another release may keep its data elsewhere)."""
    path = package_dir(module, what, install).joinpath(*parts)
    if not path.exists():
        raise DataError(f"{path} is missing: {what} need `{install}`")
    return path


TEXTILE_CLASSES = ("nominal", "local_defect", "global_defect")
TEXTILE_INSTALL = "pip install conformal-clip-data==0.1.4"


def load_textile() -> Arrays:
    """Simulated textile surfaces (conformal-clip-data): 1,000 nominal, 500 with a local and
    500 with a global defect; 250x250 JPEG files (gray content stored as RGB)."""
    root = package_file(
        "conformal_clip_data", "the textile images", TEXTILE_INSTALL, "data", "textile_images"
    )
    names, labels = [], []
    for label, folder in enumerate(("nominal", "local", "global")):
        files = sorted(p for p in (root / "simulated" / folder).glob("*.jpg") if p.is_file())
        names += [str(p) for p in files]
        labels += [label] * len(files)
    return EncodedImages(names, lambda name: Path(name).read_bytes()), np.array(labels), None, None


FACES_CLASSES = ("face", "not_face")


def load_lfw_faces() -> Arrays:
    """scikit-image's ``lfw_subset``: 100 face crops from Labeled Faces in the Wild and 100
    crops of their backgrounds, 25x25 gray (the array file ships inside scikit-image)."""
    install = "pip install scikit-image==0.26.0"
    path = package_file("skimage", "the LFW face crops", install, "data", "lfw_subset.npy")
    faces = np.load(path, allow_pickle=False)
    if faces.shape != (200, 25, 25):  # the first 100 are faces, the next 100 are not
        raise DataError(f"{path} does not hold 200 crops of 25x25; `{install}`")
    images = np.clip(np.rint(faces * 255.0), 0, 255).astype(np.uint8)
    return images, np.repeat(np.arange(2), 100), None, None


GALAXY_CLASSES = ("fri", "frii", "compact", "bent")
GALAXY_INSTALL = "pip install --no-deps firstgalaxydata==0.2.1"


def load_radio_galaxies() -> Arrays:
    """FIRST radio galaxies (firstgalaxydata's ``galaxy_data.zip``, its ``all`` folder): 495
    FRI, 924 FRII, 391 compact and 348 bent sources, 300x300 gray PNG files."""
    path = package_file("firstgalaxydata", "the radio galaxies", GALAXY_INSTALL, "galaxy_data.zip")
    folders = {"FRI": 0, "FRII": 1, "Compact": 2, "Bent": 3}
    files: dict[str, bytes] = {}
    labels = []
    try:
        with zipfile.ZipFile(path) as zf:
            for name in sorted(zf.namelist()):
                parts = name.split("/")
                in_all = len(parts) == 4 and parts[:2] == ["galaxy_data", "all"]
                if in_all and parts[2] in folders and name.endswith(".png"):
                    files[name] = zf.read(name)  # about 1 kB each: 2,158 of them fit in memory
                    labels.append(folders[parts[2]])
    except (OSError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {path} ({exc}); reinstall: `{GALAXY_INSTALL}`") from None
    if not files:
        raise DataError(f"{path} holds no galaxy_data/all/<class>/*.png; `{GALAXY_INSTALL}`")
    return EncodedImages(list(files), files.__getitem__), np.array(labels), None, None


ANIMAL_CLASSES = (
    "bear",
    "bird",
    "cat",
    "cow",
    "dog",
    "elephant",
    "giraffe",
    "horse",
    "sheep",
    "zebra",
)
ANIMAL_INSTALL = "pip install --no-deps animal-mnist==0.4"


# numpy 2 moved numpy.core to numpy._core (the old name warns); the pickle may name either
_RECONSTRUCT = (getattr(np, "_core", None) or np.core).multiarray._reconstruct


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: a pickle can run any code it names, so only
    the three callables an ndarray pickle needs are allowed."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy._core.multiarray", "_reconstruct"): _RECONSTRUCT,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not part of a numpy array")
        return self.ALLOWED[(module, name)]


def _load_array(path: Path) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as fh:
            arr = _ArrayUnpickler(io.BytesIO(fh.read())).load()
    except (OSError, EOFError, pickle.UnpicklingError, ValueError) as exc:
        raise DataError(
            f"{path} is not a numpy array ({exc}); reinstall: `{ANIMAL_INSTALL}`"
        ) from None
    if not isinstance(arr, np.ndarray):
        raise DataError(f"{path} is not a numpy array; reinstall: `{ANIMAL_INSTALL}`")
    return arr


def load_animal_mnist() -> Arrays:
    """Animal-Shape (animal-mnist): 28x28 gray silhouettes of 10 animals, 1,000 each."""
    folder = package_file(
        "animal_mnist", "the animal silhouettes", ANIMAL_INSTALL, "data", "Animal_MNIST"
    )
    images = _load_array(folder / "animal_data_version_3.gz")
    labels = _load_array(folder / "animal_label_version_3.gz")
    ok = images.shape[1:] == (28, 28) and labels.shape == (len(images),)
    if not ok or not np.isin(labels, np.arange(len(ANIMAL_CLASSES))).all():
        raise DataError(f"{folder} holds no 28x28 images with a label each; `{ANIMAL_INSTALL}`")
    return images.astype(np.uint8), labels.astype(np.int64), None, None
