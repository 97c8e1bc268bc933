"""Flower engine: the orchestrator's Algorithm 1 across real machines (Flower 1.41 Message API).

* :mod:`~edgetune.flower.engine` -- :class:`FlowerEngine`, registered as ``"flower"``: the same
  :class:`~edgetune.engines.base.Engine` the one orchestrator loop drives, talking to SuperNodes
  through a Flower ``Grid``.
* :mod:`~edgetune.flower.strategy` -- a ``flwr.serverapp.strategy.Strategy`` whose
  ``configure_train`` addresses the nodes edgetune's selection policy chose and whose
  ``aggregate_train`` is FedSGD (the mean of the gradients, one SGD step).
* :mod:`~edgetune.flower.serverapp` / :mod:`~edgetune.flower.clientapp` -- the Flower apps.
* :mod:`~edgetune.flower.deploy` -- start and stop a loopback deployment (SuperLink + SuperNodes).

Importing this package does not import ``flwr`` or ``torch``; the submodules do.
"""
