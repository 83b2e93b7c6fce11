"""`make cluster-up`, `make cluster-down`, `make cluster-status`: the local cluster's commands."""

from __future__ import annotations

import argparse
import sys

from scripts.localcluster import control_plane, processes
from scripts.localcluster.api import NotReady
from scripts.localcluster.build import BuildError, build_all
from scripts.localcluster.pins import CLUSTER_COMPONENTS, COMPONENTS, STATE, cache_dir

EPILOG = """\
commands:
  up      build what is missing (about 25 min the first time; cached in %(cache)s),
          then start the cluster on 127.0.0.1 (seconds) and write .cluster/kubeconfig
  down    stop every process `up` started and delete the cluster's state
  status  each process, the API server's health, the nodes
  build   only build the binaries (all of: %(components)s)

`make apply/diff/status/logs/delete` use .cluster/kubeconfig while the cluster is up
(an explicit KUBECONFIG wins).
"""


def status() -> int:
    cluster = control_plane.load(STATE)
    if cluster is None:
        print("cluster: down (no .cluster/ports.json); `make cluster-up` starts it")
        return 1
    healthy = True
    for daemon in processes.recorded(STATE):
        alive = daemon.alive()
        healthy &= alive
        print(f"{daemon.name:<24} pid {daemon.pid:<8} {'running' if alive else 'NOT RUNNING'}")
    try:
        code, _ = cluster.api.get("/readyz")
        _, nodes = cluster.api.get("/api/v1/nodes")
    except OSError as exc:
        print(f"kube-apiserver           unreachable: {exc}")
        return 1
    print(f"kube-apiserver           https://127.0.0.1:{cluster.ports['apiserver']} readyz={code}")
    for item in nodes.get("items", []):
        ready = [c["status"] for c in item.get("status", {}).get("conditions", []) if c["type"] == "Ready"]
        print(f"node {item['metadata']['name']:<19} Ready={ready[0] if ready else '?'}")
    print(f"KUBECONFIG={cluster.kubeconfig}")
    return 0 if healthy and code == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.localcluster",
        description=__doc__.splitlines()[0],
        epilog=EPILOG % {"cache": cache_dir(), "components": ", ".join(CLUSTER_COMPONENTS)},
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "status", "build"])
    parser.add_argument("components", nargs="*", help="for build: which (default: the cluster's; argocd too if named)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            control_plane.up(STATE)
        elif args.command == "down":
            control_plane.down(STATE)
            print("cluster: down")
        elif args.command == "status":
            return status()
        else:
            unknown = set(args.components) - set(COMPONENTS)
            if unknown:
                parser.error(f"unknown component(s) {sorted(unknown)}; known: {sorted(COMPONENTS)}")
            build_all(tuple(args.components) or CLUSTER_COMPONENTS)
    except (BuildError, NotReady, RuntimeError) as exc:
        print(f"cluster {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
