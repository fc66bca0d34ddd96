"""One class map per run: built from train (or given), reused for val, test and inference."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from headstart.errors import DataError


@dataclass(frozen=True)
class ClassMap:
    """Class names in label order: ``classes[i]`` is the name of label ``i``."""

    classes: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(set(self.classes)) != len(self.classes):
            raise DataError(f"duplicate class names in the class map: {list(self.classes)}")

    @classmethod
    def from_names(cls, names: Iterable[str]) -> ClassMap:
        """Sorted unique names, the order ImageFolder uses."""
        return cls(tuple(sorted(set(names))))

    def __len__(self) -> int:
        return len(self.classes)

    def index(self, name: str) -> int:
        try:
            return self.classes.index(name)
        except ValueError:
            raise DataError(
                f"class '{name}' is not in the class map {list(self.classes)}"
            ) from None

    def check_split(self, names: Sequence[str], split: str) -> list[str]:
        """Error on classes of ``split`` unknown to the map; return those the split lacks."""
        unknown = sorted(set(names) - set(self.classes))
        if unknown:
            raise DataError(
                f"{split} has classes that train does not: {', '.join(unknown)}; "
                "rename or remove them so every split uses the same class names"
            )
        return [c for c in self.classes if c not in set(names)]
