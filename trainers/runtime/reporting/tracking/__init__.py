"""MLflow tracking of a run, as a report sink (sink.py); off unless `trackingUri` is set.

Importing this package imports nothing else: runs without trackingUri never load the sink, nor
mlflow (which only the sink's worker thread imports)."""


def factory(cfg, run, say):
    """The report sink of runtime/reporting/sinks.py's FACTORIES; None when tracking is off."""
    if not cfg.tracking_uri:
        return None
    from trainers.runtime.reporting.tracking.sink import TrackingSink

    return TrackingSink(cfg, run, say)
