"""Text classification: KimCNN-style CNNs and capsule networks (Zhao et al. 2018).

`TASK` is what the registry loads; importing this package does not import TensorFlow.
"""

from trainers.tasks.classify.task import ClassifyTask

TASK = ClassifyTask()

__all__ = ["TASK", "ClassifyTask"]
