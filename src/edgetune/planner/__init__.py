"""JQODI planning (paper 004): instance schema, Eq. 1-15 cost model, jqodi / exact / optimum / full / minimal.

Modules: :mod:`instance` (file schema), :mod:`cost` (Eq. 1-10, 13), :mod:`estimates` (Eq. 11-12, K̂),
:mod:`problem` (per-variant sub-problems), :mod:`jqodi_dp` (``jqodi``: Algorithms 1-4 as approximate DP
over the layered time-energy graph), :mod:`jqodi` (``jqodi-literal`` / ``jqodi-stationary``: the tree as
written), :mod:`score` (Algorithm 4), :mod:`exact` (exact knapsack planner), :mod:`brute` (reference),
:mod:`methods` (registry), :mod:`plan` (output), :mod:`scenarios` (the paper's testbed and the
measured scenario), :mod:`inference` (collaborative inference, Fig. 9).
"""
