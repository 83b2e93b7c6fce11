"""The local cluster's PKI: one CA for the API server and its clients, one for the operator's webhook.

The cluster PKI lives in the cache directory. The operator's webhook PKI lives beside the fixed
path where operator v1.9.4 reads its serving pair (/tmp/k8s-webhook-server/serving-certs/, where a
kubelet would mount its Secret): that path is one per machine, so every local cluster on the
machine, whatever its cache directory, must serve the same pair, or starting one cluster would
break the webhook of another.
"""

from __future__ import annotations

import datetime
import fcntl
import ipaddress
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# The operator's cert-controller accepts a Secret only if the CA is valid for this name and its key
# is PKCS#1, and the serving certificate is valid for the operator's Service name for 90+ days.
OPERATOR_CA_NAME = "training-operator-ca"
OPERATOR_SERVICE_DNS = "training-operator.kubeflow.svc"
LOOPBACK = ipaddress.ip_address("127.0.0.1")
VALID_DAYS = 3650
WEBHOOK_ROOT = Path("/tmp/k8s-webhook-server")
WEBHOOK_CERT_DIR = WEBHOOK_ROOT / "serving-certs"
OPERATOR_PKI_DIR = WEBHOOK_ROOT / "textjobs-operator-pki"


@dataclass(frozen=True)
class Pair:
    cert: Path
    key: Path


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pkcs1(key: rsa.RSAPrivateKey) -> bytes:
    """PEM "RSA PRIVATE KEY", the form the operator's cert-controller insists on."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


def _write(pair: Pair, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> None:
    pair.key.write_bytes(_pkcs1(key))
    pair.key.chmod(0o600)
    pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _name(common_name: str, organization: str = "") -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        parts.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
    )


def make_ca(pair: Pair, common_name: str) -> None:
    key = _key()
    name = _name(common_name)
    cert = (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, True, False, False, True, False, False, False), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name)]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(pair, cert, key)


def issue(
    ca: Pair, pair: Pair, common_name: str, *, organization: str = "", dns: tuple[str, ...] = (), server: bool
) -> None:
    """A leaf certificate signed by `ca`: a serving one (loopback IP and `dns` names) or a client one."""
    ca_cert = x509.load_pem_x509_certificate(ca.cert.read_bytes())
    ca_key = serialization.load_pem_private_key(ca.key.read_bytes(), password=None)
    key = _key()
    usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
    builder = (
        _builder(_name(common_name, organization), ca_cert.subject, key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if server:
        names = [x509.DNSName(name) for name in dns] + [x509.IPAddress(LOOPBACK)]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    _write(pair, builder.sign(ca_key, hashes.SHA256()), key)


@dataclass(frozen=True)
class Pki:
    directory: Path

    def pair(self, name: str) -> Pair:
        return Pair(self.directory / f"{name}.crt", self.directory / f"{name}.key")

    @property
    def service_account_key(self) -> Path:
        return self.directory / "service-account.key"

    @property
    def service_account_public_key(self) -> Path:
        return self.directory / "service-account.pub"


# Each daemon talks to the API server as itself, so the cluster enforces the same RBAC as a real one:
# the controller-manager and the scheduler under the API server's bootstrap roles, the operator
# under the ClusterRole its own manifests ship. A client certificate's CN is the user name and its
# O the group, which is how a ServiceAccount subject in a binding matches a certificate.
CLIENT_IDENTITIES = {
    "admin": ("textjobs-admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", ""),
    "scheduler": ("system:kube-scheduler", ""),
    "training-operator": ("system:serviceaccount:kubeflow:training-operator", "system:serviceaccounts"),
    # The real node (kubelet.py): the kubelet under the Node authorizer, the API server calling the kubelet.
    "kubelet": ("system:node:127.0.0.1", "system:nodes"),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", ""),
}
# Serving pairs besides the API server's: the kubelet's API, checked by the API server against the CA.
SERVING_IDENTITIES = {"kubelet-serving": "system:node:127.0.0.1"}


def ensure_pki(directory: Path) -> Pki:
    """Create the CA, serving pair and client identities once; later calls add only what is missing.

    A lock serialises clusters starting side by side, and the CA is never replaced while it exists:
    a running cluster trusts only it.
    """
    pki = Pki(directory)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (directory / "complete").exists():
            _make_authority(pki)
        for name, (user, group) in CLIENT_IDENTITIES.items():
            if not pki.pair(name).cert.exists():  # _write writes the key first: a cert means a whole pair
                issue(pki.pair("ca"), pki.pair(name), user, organization=group, server=False)
        for name, common_name in SERVING_IDENTITIES.items():
            if not pki.pair(name).cert.exists():
                issue(pki.pair("ca"), pki.pair(name), common_name, server=True)
    return pki


def _make_authority(pki: Pki) -> None:
    ca = pki.pair("ca")
    make_ca(ca, "textjobs-local-ca")
    issue(
        ca,
        pki.pair("apiserver"),
        "kube-apiserver",
        dns=("localhost", "kubernetes", "kubernetes.default.svc"),
        server=True,
    )
    key = _key()
    pki.service_account_key.write_bytes(_pkcs1(key))
    pki.service_account_public_key.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    for name in [*CLIENT_IDENTITIES, *SERVING_IDENTITIES]:  # leaves of an earlier CA would not be trusted by this one
        pki.pair(name).cert.unlink(missing_ok=True)
    (pki.directory / "complete").touch()  # written last: its presence means a whole authority


def ensure_operator_pki(directory: Path = OPERATOR_PKI_DIR) -> Pki:
    """The webhook CA and serving pair, made once per machine. Made in a scratch directory and
    renamed into place, so clusters starting side by side agree on one pair."""
    pki = Pki(directory)
    if (directory / "complete").exists():
        return pki
    directory.parent.mkdir(parents=True, exist_ok=True)
    scratch = Pki(Path(tempfile.mkdtemp(prefix=".operator-pki-", dir=directory.parent)))
    make_ca(scratch.pair("operator-ca"), OPERATOR_CA_NAME)
    issue(
        scratch.pair("operator-ca"),
        scratch.pair("operator-webhook"),
        OPERATOR_SERVICE_DNS,
        dns=(OPERATOR_SERVICE_DNS,),
        server=True,
    )
    (scratch.directory / "complete").touch()
    try:
        scratch.directory.rename(directory)
    except OSError:  # another cluster made it first: use theirs
        shutil.rmtree(scratch.directory, ignore_errors=True)
    return pki
