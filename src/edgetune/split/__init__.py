"""Split fine-tuning with quantization-aware training, profiler and epoch estimators (JQODI paper 004).

* :mod:`edgetune.split.models` — LeNet-like, ResNet20, VGG-like as block sequences (partition points).
* :mod:`edgetune.split.quant` — fake quantization of weights/activations at 1-8 bits with an STE.
* :mod:`edgetune.split.data`, :mod:`edgetune.split.cifar` — Fashion-MNIST (IDX), digits, CIFAR pickles.
* :mod:`edgetune.split.energy` — node power/speed profiles and the virtual clock.
* :mod:`edgetune.split.splitrun` — device/server split training (activations forward, gradients back).
* :mod:`edgetune.split.profiler` — per-block compute and size -> the planner instance's ``layers``.
* :mod:`edgetune.split.estimators` — loss curves, power-law and learned (DNN + LSTM) K estimators.

Torch is imported by these modules; import them lazily from command handlers.
"""
