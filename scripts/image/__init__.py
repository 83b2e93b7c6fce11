"""The trainer image: the GPU image (Dockerfile; Docker or buildah) and the local node's CPU image.

engine.py builds and pushes images/trainer/Dockerfile; base_layer.py, code_layer.py, oci.py and
local.py build the CPU image for the local cluster's real node without Docker; pin.py writes a
pushed image's digest into the base.
"""
