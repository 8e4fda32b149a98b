"""Architecture search over any :class:`~hypernas_pyg.spaces.SearchSpace`.

An :class:`Oracle` answers queries (a benchmark table or the user's function), an
:class:`Evaluator` spends the budget of distinct architectures (through any
``concurrent.futures.Executor``), and each algorithm returns a :class:`SearchResult`.
"""
from hypernas_pyg.search.base import SearchAlgorithm
from hypernas_pyg.search.evaluator import Evaluator, Record
from hypernas_pyg.search.evolution import RegularizedEvolution
from hypernas_pyg.search.oracle import (Evaluation, FunctionOracle, Oracle, PredictorOracle,
                                        TableOracle)
from hypernas_pyg.search.pool import PoolSpace
from hypernas_pyg.search.predictor_guided import PredictorGuidedEvolution, fresh_predictor
from hypernas_pyg.search.random_search import RandomSearch
from hypernas_pyg.search.result import SearchResult

#: The algorithms by the names the CLI and the benchmarks use.
ALGORITHMS = {"random": RandomSearch, "evolution": RegularizedEvolution,
              "predictor": PredictorGuidedEvolution}

__all__ = ["ALGORITHMS", "Evaluation", "Evaluator", "FunctionOracle", "Oracle",
           "PoolSpace", "PredictorGuidedEvolution", "PredictorOracle", "RandomSearch", "Record", "RegularizedEvolution",
           "SearchAlgorithm", "SearchResult", "TableOracle", "fresh_predictor"]
