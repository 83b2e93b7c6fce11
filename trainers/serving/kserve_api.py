"""KServe's Python model server, imported once, safely.

`import kserve` parses the process's command line at import time (kserve/model_server.py calls
`parse_known_args()` on sys.argv, and argparse expands abbreviations: our `--model` would be read
as its `--model_name`). It is imported here with an empty command line, and everything this
package uses from KServe comes through this module.
"""

from __future__ import annotations

import sys

_argv, sys.argv = sys.argv, sys.argv[:1]
try:
    from kserve import Model, ModelRepository
    from kserve.errors import InvalidInput, ModelNotFound
    from kserve.model_server import app
    from kserve.protocol.dataplane import DataPlane
    from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse
    from kserve.protocol.model_repository_extension import ModelRepositoryExtension
    from kserve.protocol.rest.server import RESTServer
finally:
    sys.argv = _argv

__all__ = [
    "DataPlane",
    "InferOutput",
    "InferRequest",
    "InferResponse",
    "InvalidInput",
    "Model",
    "ModelNotFound",
    "ModelRepository",
    "ModelRepositoryExtension",
    "RESTServer",
    "app",
]
