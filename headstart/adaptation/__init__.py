"""Domain adaptation: DANN from a labelled source folder to an unlabelled target folder.

Small modules (gradient reversal, domain discriminator, the domain loss) and the training
glue that compares a source-only model with a DANN model under the same budget.
"""

from typing import TYPE_CHECKING

import lazy_loader

# Names load on first use: `headstart --help` and light modules stay free of torch.
__getattr__, __dir__, __all__ = lazy_loader.attach(
    __name__,
    submod_attrs={
        "adapt": ["AdaptResult", "adapt"],
        "config": ["AdaptConfig"],
        "dann": ["DomainAdversarialLoss"],
        "discriminator": ["DomainDiscriminator"],
        "gap": ["proxy_a_distance"],
        "grl": ["GradientReverseLayer", "dann_coefficient", "reverse_gradient"],
    },
)

if TYPE_CHECKING:
    from headstart.adaptation.adapt import AdaptResult, adapt
    from headstart.adaptation.config import AdaptConfig
    from headstart.adaptation.dann import DomainAdversarialLoss
    from headstart.adaptation.discriminator import DomainDiscriminator
    from headstart.adaptation.gap import proxy_a_distance
    from headstart.adaptation.grl import GradientReverseLayer, dann_coefficient, reverse_gradient
