"""textjobs trainers: TensorFlow 2.21 / Keras 3 text models run as Kubeflow TFJobs.

`runtime/` is what every training job needs (configuration, distribution, storage, checkpoints
and resume, the step loop, metrics, export); `tasks/` holds one package per workload; `shared/`
the code several tasks use (text, word vectors, seq2seq), which the runtime never imports.
Importing this package, the runtime's configuration or a task's registry entry does not import
TensorFlow: `make validate` checks every experiment's ConfigMap without paying TF's start-up cost.
"""

__version__ = "0.2.0"
