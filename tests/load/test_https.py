"""HTTPS through asyncio's SSL against a local server with a certificate made here."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from loadtrial.cli import main
from loadtrial.load import run_load, summarize
from loadtrial.load.model import LoadPlan, OpenModel, RequestSpec, Stage
from loadtrial.targets import RunningTarget, TargetConfig, start_target_thread


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    """Write a self-signed cert for 127.0.0.1/localhost; return (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(san, critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_target(tmp_path: Path) -> Iterator[tuple[RunningTarget, Path]]:
    cert, key = _self_signed(tmp_path)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    with start_target_thread(TargetConfig("fast"), ssl=ctx) as target:
        yield target, cert


def _plan(url: str, **kw: object) -> LoadPlan:
    model = OpenModel((Stage(1.0, 100.0),))
    return LoadPlan((RequestSpec("r", "GET", url),), model, **kw)  # type: ignore[arg-type]


@pytest.mark.timeout(60)
def test_https_with_trusted_cert_succeeds(tls_target: tuple[RunningTarget, Path]) -> None:
    target, cert = tls_target
    assert target.url.startswith("https://")
    s = summarize(run_load(_plan(target.url, ca_file=str(cert))))
    assert s["ok"] == 100 and s["errors"] == {}


@pytest.mark.timeout(60)
def test_https_untrusted_cert_is_a_tls_error(tls_target: tuple[RunningTarget, Path]) -> None:
    target, _ = tls_target
    s = summarize(run_load(_plan(target.url)))
    assert s["ok"] == 0 and s["errors"] == {"tls": 100}
    insecure = summarize(run_load(_plan(target.url, tls_verify=False)))
    assert insecure["ok"] == 100


@pytest.mark.timeout(60)
def test_cli_insecure_and_cacert_pass_untrusted_is_one_line(
    tls_target: tuple[RunningTarget, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    target, cert = tls_target
    argv = ["load", target.url, "--rate", "20", "--duration", "1s", "--no-live"]
    assert main([*argv, "--insecure"]) == 0
    assert main([*argv, "--cacert", str(cert)]) == 0
    capsys.readouterr()
    # Without trust, the handshake is checked before any load: one line, exit 2.
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "certificate" in err and "--insecure" in err and "\n" not in err


@pytest.mark.timeout(60)
def test_cli_https_to_plain_http_server_is_one_line(
    fast_target: RunningTarget, capsys: pytest.CaptureFixture[str]
) -> None:
    url = fast_target.url.replace("http://", "https://")
    assert main(["load", url, "--rate", "5", "--duration", "1s", "--no-live"]) == 2
    err = capsys.readouterr().err.strip()
    assert "TLS handshake" in err and "http://" in err and "\n" not in err


@pytest.mark.parametrize("content", [None, "not a certificate\n"])
def test_cli_unreadable_cacert_is_one_line(
    tls_target: tuple[RunningTarget, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    content: str | None,
) -> None:
    target, _ = tls_target
    pem = tmp_path / "ca.pem"
    if content is not None:
        pem.write_text(content)
    argv = ["load", target.url, "--rate", "5", "--duration", "1s", "--cacert", str(pem)]
    assert main([*argv, "--no-live"]) == 2
    err = capsys.readouterr().err.strip()
    assert "CA file" in err and "\n" not in err
