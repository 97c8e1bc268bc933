"""JQODI planning (paper 004): instance schema, Eq. 1-15 cost model, jqodi / exact / optimum / full / minimal.

Modules: :mod:`instance` (file schema), :mod:`cost` (Eq. 1-10, 13), :mod:`estimates` (Eq. 11-12, K̂),
:mod:`problem` (per-variant sub-problems), :mod:`jqodi` (Algorithms 1-4), :mod:`exact` (label-setting
DP), :mod:`brute` (reference), :mod:`methods` (registry), :mod:`plan` (output), :mod:`scenarios`
(the paper's testbed), :mod:`inference` (collaborative inference, Fig. 9).
"""
