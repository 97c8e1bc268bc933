"""Epoch estimators K̂_exp / K̂_rob (JQODI paper 004, Sections III-D, V-B).

* :mod:`.curves` — record and cache fine-tuning loss curves per (model, bits, seed);
* :mod:`.powerlaw` — (a) power-law learning-curve fit on the early epochs;
* :mod:`.learned` — (b) the paper's learned predictors: a DNN for γ, an LSTM for K;
* :mod:`.table` — the Table VI/VII analog.
"""
