"""A local model server for every export: TF Serving's REST API and the Open Inference Protocol
(V2) on KServe's Python model server. `python -m trainers.serving --help`.

Generic by construction: it reads the signatures from the SavedModel, so any task's export is
served without changes here. The trainer never imports this package.
"""
