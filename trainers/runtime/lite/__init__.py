"""TFLite artifacts: conversion with the known traps caught (convert.py) and running them with
ai-edge-litert (runner.py). `python -m trainers optimize` (runtime/optimize.py) drives both."""
