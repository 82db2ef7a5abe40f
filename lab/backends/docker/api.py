"""The Docker API inside a node, for real fence agents (Debian's fence_docker): a loopback-only TLS relay.

fence_docker speaks HTTP(S) to `<ip>:<ipport>/v<api-version>/containers/<plug>/...` and cannot use a unix
socket. So a node that fences through Docker gets the engine's socket bind-mounted at /var/run/docker.sock
and a relay (socat) in its own network namespace that listens on 127.0.0.1 only: the agent's requests
go through the loopback device and the bind-mounted socket, and no packet leaves the node.

Why TLS: fence-agents 4.12 sets `ssl` on by default for fence_docker and has no way to turn it off (an
`ssl=0` still counts as given), so the agent always speaks HTTPS and, unless told `ssl-insecure`, wants
a client certificate (`tlscert`, `tlskey`, `tlscacert`): Docker's documented `--tlsverify` setup. The
relay therefore terminates TLS and verifies the client certificate. Each run gets its own throwaway CA,
server and client certificates (openssl), in the run dir, which every node sees at the same path.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lab.backends.base import LabError

ENGINE_SOCKET = Path("/var/run/docker.sock")
RELAY_ADDRESS = "127.0.0.1"
RELAY_PORT = 2376  # Docker's port for the TLS-protected API
CERT_DAYS = 7  # a run lasts minutes; a leftover run dir holds nothing that outlives a week
OPENSSL_TIMEOUT_S = 30.0
CA_SUBJECT = "/CN=hblab Docker API CA"


@dataclass(frozen=True)
class ApiTls:
    """The PEM files of one run: a CA, the relay's server certificate, the agents' client certificate."""

    directory: Path

    @property
    def ca(self) -> Path:
        return self.directory / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.directory / "server-cert.pem"

    @property
    def server_key(self) -> Path:
        return self.directory / "server-key.pem"

    @property
    def client_cert(self) -> Path:
        return self.directory / "cert.pem"

    @property
    def client_key(self) -> Path:
        return self.directory / "key.pem"


@dataclass(frozen=True)
class NodeDockerApi:
    """How a program in any node reaches the Docker API: fence_docker's options and the relay's argv."""

    tls: ApiTls
    api_version: str  # what the engine reports (`docker version`); fence_docker's default 1.11 is refused

    def agent_options(self) -> tuple[tuple[str, str], ...]:
        """fence_docker's `name=value` options, in the order an admin would write them."""
        return (
            ("ip", RELAY_ADDRESS),
            ("ipport", str(RELAY_PORT)),
            ("api-version", self.api_version),
            ("tlscert", str(self.tls.client_cert)),
            ("tlskey", str(self.tls.client_key)),
            ("tlscacert", str(self.tls.ca)),
        )

    def relay_argv(self) -> list[str]:
        """socat in the node: TLS on loopback only, client certificate required, to the engine's socket."""
        listen = ",".join(
            [
                f"OPENSSL-LISTEN:{RELAY_PORT}",
                f"bind={RELAY_ADDRESS}",
                "fork",
                "reuseaddr",
                f"cert={self.tls.server_cert}",
                f"key={self.tls.server_key}",
                f"cafile={self.tls.ca}",
                "verify=1",
            ]
        )
        return ["socat", listen, f"UNIX-CONNECT:{ENGINE_SOCKET}"]


def make_tls(directory: Path) -> ApiTls:
    """Create a fresh CA and the relay's and agents' certificates in `directory` (keys mode 0600)."""
    if shutil.which("openssl") is None:
        raise LabError("fence_docker's TLS certificates need the openssl program: apt-get install openssl")
    tls = ApiTls(directory)
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = directory / "ca-key.pem"
    _openssl(
        [
            "req",
            "-x509",
            *_new_key(ca_key),
            "-days",
            str(CERT_DAYS),
            "-subj",
            CA_SUBJECT,
            "-out",
            str(tls.ca),
        ],
        directory,
    )
    # IP:127.0.0.1 in the server's subjectAltName: curl checks the name the agent connects to.
    for cert, key, name, usage in (
        (
            tls.server_cert,
            tls.server_key,
            RELAY_ADDRESS,
            f"subjectAltName=IP:{RELAY_ADDRESS}\nextendedKeyUsage=serverAuth\n",
        ),
        (tls.client_cert, tls.client_key, "hblab fence agent", "extendedKeyUsage=clientAuth\n"),
    ):
        request = directory / f"{key.stem}.csr"
        extensions = directory / f"{key.stem}.ext"
        extensions.write_text(usage)
        _openssl(["req", *_new_key(key), "-out", str(request), "-subj", f"/CN={name}"], directory)
        _openssl(
            [
                "x509",
                "-req",
                "-in",
                str(request),
                "-CA",
                str(tls.ca),
                "-CAkey",
                str(ca_key),
                "-set_serial",
                str(secrets.randbits(63)),
                "-days",
                str(CERT_DAYS),
                "-extfile",
                str(extensions),
                "-out",
                str(cert),
            ],
            directory,
        )
        request.unlink()
        extensions.unlink()
    ca_key.unlink()  # nothing is signed after this: the CA key has no reason to exist
    for key in (tls.server_key, tls.client_key):
        os.chmod(key, 0o600)
    return tls


def _new_key(path: Path) -> list[str]:
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(path)]


def _openssl(args: list[str], directory: Path) -> None:
    try:
        res = subprocess.run(
            ["openssl", *args], capture_output=True, text=True, timeout=OPENSSL_TIMEOUT_S, cwd=directory
        )
    except subprocess.TimeoutExpired as e:
        raise LabError(f"openssl {args[0]} did not finish within {OPENSSL_TIMEOUT_S:g} s") from e
    if res.returncode != 0:
        raise LabError(f"openssl {' '.join(args[:2])} in {directory}: {res.stderr.strip()[-500:]}")
