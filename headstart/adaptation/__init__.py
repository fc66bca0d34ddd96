"""Domain adaptation: DANN from a labelled source folder to an unlabelled target folder.

Small modules (gradient reversal, domain discriminator, the domain loss) and the training
glue that compares a source-only model with a DANN model under the same budget.
"""

from headstart.adaptation.adapt import AdaptResult, adapt
from headstart.adaptation.config import AdaptConfig
from headstart.adaptation.dann import DomainAdversarialLoss
from headstart.adaptation.discriminator import DomainDiscriminator
from headstart.adaptation.gap import proxy_a_distance
from headstart.adaptation.grl import GradientReverseLayer, dann_coefficient, reverse_gradient

__all__ = [
    "AdaptConfig",
    "AdaptResult",
    "DomainAdversarialLoss",
    "DomainDiscriminator",
    "GradientReverseLayer",
    "adapt",
    "dann_coefficient",
    "proxy_a_distance",
    "reverse_gradient",
]
