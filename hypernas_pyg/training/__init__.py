"""Training: the one loop, the regression and multi-task fits, the auxiliary task."""
from hypernas_pyg.training.auxiliary_config import AUX_PRESETS, AuxiliaryConfig, aux_resolver
from hypernas_pyg.training.auxiliary_task import AuxiliaryTask, held_out_archs
from hypernas_pyg.training.loop import train_epochs
from hypernas_pyg.training.multi_task import TASKS, fit_multi_task
from hypernas_pyg.training.regression import (fit_frozen_regressor, fit_regression,
                                              fold_standardisation)
from hypernas_pyg.training.target_scaling import SCALINGS, TargetScaler

__all__ = ["AUX_PRESETS", "AuxiliaryConfig", "AuxiliaryTask", "SCALINGS", "TASKS",
           "TargetScaler", "aux_resolver", "fit_frozen_regressor", "fit_multi_task",
           "fit_regression", "fold_standardisation", "held_out_archs", "train_epochs"]
