"""A minimal HTTPS client for the local API server, with the admin client certificate.

Used for readiness probes and the few objects cluster-up creates; everything a user does goes
through kubectl with the generated kubeconfig.
"""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

from scripts.localcluster.certs import Pki


class NotReady(RuntimeError):
    pass


@dataclass(frozen=True)
class Api:
    port: int
    pki: Pki

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.pki.pair("ca").cert))
        admin = self.pki.pair("admin")
        context.load_cert_chain(str(admin.cert), str(admin.key))
        return context

    def request(
        self, method: str, path: str, body: dict | None = None, content_type: str = "application/json"
    ) -> tuple[int, dict | str]:
        connection = http.client.HTTPSConnection("127.0.0.1", self.port, context=self._context(), timeout=10)
        try:
            payload = json.dumps(body) if body is not None else None
            connection.request(method, path, payload, {"Content-Type": content_type} if payload else {})
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text

    def get(self, path: str) -> tuple[int, dict | str]:
        return self.request("GET", path)

    def apply(self, obj: dict) -> None:
        """Server-side apply of one object at the path its own apiVersion, kind and metadata name."""
        path = resource_path(obj)
        status, answer = self.request(
            "PATCH", f"{path}?fieldManager=textjobs-cluster&force=true", obj, "application/apply-patch+yaml"
        )
        if status >= 300:
            raise RuntimeError(f"apply {path}: HTTP {status}: {answer}")


def resource_path(obj: dict) -> str:
    """`/api/v1/namespaces/kubeflow/secrets/x`, `/apis/rbac.authorization.k8s.io/v1/clusterroles/y`.

    The resource is the kind in lower case plus "s" ("y" becoming "ies": mutatingadmissionpolicies),
    true of every kind cluster-up applies (no discovery call needed); a namespace in the metadata
    makes the path namespaced.
    """
    version, metadata = obj["apiVersion"], obj["metadata"]
    group = "/api/v1" if version == "v1" else f"/apis/{version}"
    scope = f"/namespaces/{metadata['namespace']}" if metadata.get("namespace") else ""
    kind = obj["kind"].lower()
    resource = kind[:-1] + "ies" if kind.endswith("y") else kind + "s"
    return f"{group}{scope}/{resource}/{metadata['name']}"


def wait_until(what: str, check: Callable[[], bool], timeout_s: float, on_fail: Callable[[], str] = lambda: "") -> None:
    """Poll `check` until it is true; on timeout raise NotReady with what `on_fail` says (a log tail)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if check():
                return
        except (OSError, http.client.HTTPException, ssl.SSLError):
            pass
        if time.monotonic() > deadline:
            raise NotReady(f"{what} not ready after {timeout_s:.0f}s\n{on_fail()}".rstrip())
        time.sleep(0.25)
