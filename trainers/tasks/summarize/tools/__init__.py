"""The summarizer's developer tools: `make benchmark TASK=summarize`, `make sample-data TASK=summarize`."""
