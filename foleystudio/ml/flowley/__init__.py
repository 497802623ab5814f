"""Flowley: the flow-matching generator with PSCA (docs/architecture.md §5).

Public API::

    from foleystudio.ml.flowley import (
        Flowley, FlowleyConfig, flowley_config, Conditions,       # network, configs, inputs
        training_loss, FlowTrainingConfig,                        # training
        sample,                                                   # Euler / Heun + CFG
        psca_mask, psca_bias, PscaBiasCache,                      # the PSCA mask
    )
"""

from foleystudio.ml.flowley.conditions import CONDITION_NAMES, GUIDED_CONDITIONS, Conditions
from foleystudio.ml.flowley.config import NAMED_CONFIGS, FlowleyConfig, flowley_config
from foleystudio.ml.flowley.flow import (
    FlowTrainingConfig,
    onset_token_targets,
    sample_flow_times,
    training_loss,
)
from foleystudio.ml.flowley.network import Flowley, FlowleyOutput
from foleystudio.ml.flowley.psca import PscaBiasCache, clamp_omega, psca_bias, psca_mask
from foleystudio.ml.flowley.sampler import network_evaluations, sample

__all__ = [
    "CONDITION_NAMES",
    "GUIDED_CONDITIONS",
    "NAMED_CONFIGS",
    "Conditions",
    "FlowTrainingConfig",
    "Flowley",
    "FlowleyConfig",
    "FlowleyOutput",
    "PscaBiasCache",
    "clamp_omega",
    "flowley_config",
    "network_evaluations",
    "onset_token_targets",
    "psca_bias",
    "psca_mask",
    "sample",
    "sample_flow_times",
    "training_loss",
]
