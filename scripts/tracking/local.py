"""`make run` and tracking: a local run logs to the server of `make tracking-up` while it is up.

An overlay's own trackingUri (components/tracking: the cluster's Service name) means nothing on
this machine, so it is replaced by the local server's address, or dropped when none is up.
"""

from __future__ import annotations

from scripts.tracking.server import running_url


def point_replicas_at_local_server(replicas, printer) -> str | None:
    url = running_url()
    overlay_uri = next((r.env["trackingUri"] for r in replicas if r.env.get("trackingUri")), None)
    for replica in replicas:
        if url:
            replica.env["trackingUri"] = url
        else:
            replica.env.pop("trackingUri", None)
    if url:
        printer(f"[localrun] tracking to {url} (make tracking-up); `make runs` lists the runs")
    elif overlay_uri:
        printer(f"[localrun] not tracked: {overlay_uri} is the cluster's server; `make tracking-up` tracks local runs")
    return url
