"""`make cluster-up`, `make cluster-down`, `make cluster-status`: the local cluster's commands."""

from __future__ import annotations

import argparse
import sys

from scripts.localcluster import control_plane, processes, real_node
from scripts.localcluster.api import NotReady
from scripts.localcluster.build import BuildError, build_all
from scripts.localcluster.pins import CLUSTER_COMPONENTS, COMPONENTS, STATE, cache_dir

NODE = "node"  # the real node's parts, for `build`
EPILOG = """\
commands:
  up      build what is missing (about 25 min the first time; cached in %(cache)s),
          then start the cluster on 127.0.0.1 (seconds) and write .cluster/kubeconfig
          --real-node: also a real kubelet node running TFJob pods in containers (root;
          the trainer image is built here the first time, minutes; see the README)
  down    stop every process `up` started, take the real node down, delete the cluster's state
  status  each process, the API server's health, the nodes
  build   only build (all of: %(components)s; `node`: the real node's Debian packages,
          installed when run as root, its pause image and the trainer image)

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
    record = real_node.load(cluster.state)
    if record is not None:
        print(
            f"real node                bridge {record.slot.bridge}, pods on {record.slot.subnet}, bucket {record.emulator}"
        )
        print(f"real node image          {record.image} {record.image_digest[:19]}")
    print(f"KUBECONFIG={cluster.kubeconfig}")
    return 0 if healthy and code == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.localcluster",
        description=__doc__.splitlines()[0],
        epilog=EPILOG % {"cache": cache_dir(), "components": ", ".join([*CLUSTER_COMPONENTS, "argocd", NODE])},
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("command", choices=["up", "down", "status", "build"])
    parser.add_argument(
        "components", nargs="*", help="for build: which (default: the cluster's; argocd and node too if named)"
    )
    parser.add_argument("--real-node", action="store_true", help="for up: add the real kubelet node (root)")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            control_plane.up(STATE, real_node=args.real_node)
        elif args.command == "down":
            control_plane.down(STATE)
            print("cluster: down")
        elif args.command == "status":
            return status()
        else:
            unknown = set(args.components) - set(COMPONENTS) - {NODE}
            if unknown:
                parser.error(f"unknown component(s) {sorted(unknown)}; known: {sorted([*COMPONENTS, NODE])}")
            build_all(tuple(name for name in args.components if name != NODE) or CLUSTER_COMPONENTS)
            if NODE in args.components:
                real_node.prepare(build=True)
    except (BuildError, NotReady, RuntimeError) as exc:
        print(f"cluster {args.command}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
