"""HTTPS with a certificate from the inventory (brefboard_tls=inventory).

The pair is checked on the controller before anything reaches a host: a key
that is not the certificate's, an expired certificate, or text that is no PEM
fails preflight with a message that says which. Plain HTTP redirects to the
public HTTPS URL the user typed, port included (a published port such as
https://localhost:8443 is not nginx's own 443). The role's own preflight and
template run on fake local hosts; the lab and molecule serve it for real.
"""
import datetime
import re

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import ROOT, preflight_task

RECORD = {"name": "Record the nginx site", "ansible.builtin.set_fact": {"test_result": {
    "nginx": "{{ lookup('ansible.builtin.template', '%s/roles/brefboard/templates/nginx-brefboard.conf.j2') }}" % ROOT,
    "cert_path": "{{ _brefboard_tls_cert }}"}}}


def pem_pair(days: int = 30, name: str = "localhost"):
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = (now - datetime.timedelta(days=1), now + datetime.timedelta(days=days)) if days > 0 else \
        (now - datetime.timedelta(days=10), now - datetime.timedelta(days=1))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM).decode(),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode())


def test_a_certificate_pair_from_the_inventory_is_checked_before_any_host_gets_it(play):
    cert, key = pem_pair()
    _, other_key = pem_pair()
    old_cert, old_key = pem_pair(days=0)
    inventory = {"brefboard_tls": "inventory", "brefboard_public_urls": ["https://localhost:8443"]}
    results = play.run({
        "good": {**inventory, "brefboard_tls_certificate": cert, "brefboard_tls_private_key": key},
        "wrongkey": {**inventory, "brefboard_tls_certificate": cert, "brefboard_tls_private_key": other_key},
        "expired": {**inventory, "brefboard_tls_certificate": old_cert, "brefboard_tls_private_key": old_key},
        "missing": {**inventory, "brefboard_tls_certificate": cert},
    }, {"web": ["good", "wrongkey", "expired", "missing"]}, [preflight_task(), RECORD])
    assert results["good"]["ok"], results["good"]
    assert results["good"]["cert_path"].endswith("/tls/brefboard.crt")
    assert not results["wrongkey"]["ok"] and "is not the key of brefboard_tls_certificate" in results["wrongkey"]["msg"]
    assert not results["expired"]["ok"] and "expired on" in results["expired"]["msg"]
    assert not results["missing"]["ok"] and "brefboard_tls_private_key (its key in PEM" in results["missing"]["msg"]
    # The key never reaches a log: the play's output holds no line of it.
    output = play.proc.stdout + play.proc.stderr
    assert key.splitlines()[1] not in output and other_key.splitlines()[1] not in output


def test_plain_http_redirects_to_the_https_url_the_user_typed(play):
    results = play.run({"lab": {"brefboard_tls": "selfsigned", "brefboard_server_name": "brefboard.example.org",
                                "brefboard_public_urls": ["https://localhost:8443", "https://127.0.0.1:8443",
                                                          "https://LOCALHOST:8443/"]}},
                       {"web": ["lab"]}, [preflight_task(), RECORD])
    conf = results["lab"]["nginx"]
    block = re.search(r"map \$host \$brefboard_https_origin \{(.*?)\}", conf, re.S)
    assert block, conf
    assert '"localhost" "https://localhost:8443";' in block.group(1)
    assert '"127.0.0.1" "https://127.0.0.1:8443";' in block.group(1)
    assert block.group(1).count('"localhost"') == 1, "one entry per host name (nginx refuses duplicates)"
    # Any other name keeps nginx's own HTTPS port.
    assert 'default "https://$host";' in block.group(1)
    assert "return 301 $brefboard_https_origin$request_uri;" in conf
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in conf
