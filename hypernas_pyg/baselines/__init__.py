"""Baselines a practitioner tries before a graph predictor: trees on a one-hot encoding, chance."""
from hypernas_pyg.baselines.one_hot_gbdt import OneHotGBDTPredictor
from hypernas_pyg.baselines.random_predictor import RandomPredictor

BASELINES = {"gbdt": OneHotGBDTPredictor, "random": RandomPredictor}

__all__ = ["OneHotGBDTPredictor", "RandomPredictor", "BASELINES"]
