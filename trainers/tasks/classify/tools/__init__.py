"""The classifier's developer tools: `make benchmark TASK=classify`, `make sample-data TASK=classify`."""
