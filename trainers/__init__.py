"""textjobs trainers: TensorFlow 2.21 / Keras 3 text classifiers run as Kubeflow TFJobs.

Importing this package does not import TensorFlow: `trainers.config` must stay usable by
`make validate`, which checks every experiment's ConfigMap without paying TF's start-up cost.
"""

__version__ = "0.1.0"
