"""On the lab of `make lab` (skipped when it is not up): a browser's login POST
to the published https://localhost:8443 passes Django's Origin check, one from
another origin does not; the certificate given in the inventory is the one
served, trusted through the lab's local CA, plain HTTP redirects to the URL
users type (published port included) with HSTS on HTTPS; and the web host
has the PDF export's font.
"""
import http.cookiejar
import re
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

from conftest import ROOT, lab_running

SECRETS = ROOT / ".cache" / "lab" / "secrets.yml"
CA = ROOT / ".cache" / "lab" / "ca" / "ca.crt"
BASE = "https://localhost:8443"
pytestmark = pytest.mark.skipif(not (lab_running() and SECRETS.exists() and CA.exists()),
                                reason="the lab is not up (make lab)")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post_login(base: str, origin: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect,
                                         urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=CA)))
    page = opener.open(f"{base}/login/", timeout=30).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    password = yaml.safe_load(SECRETS.read_text())["lab_user_password"]
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "username": "demo", "password": password}).encode()
    request = urllib.request.Request(f"{base}/login/", data=data,
                                     headers={"Origin": origin, "Referer": f"{base}/login/"})
    try:
        return opener.open(request, timeout=30).status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_a_login_post_through_the_published_port_passes_the_origin_check():
    assert post_login(BASE, BASE) == 302


def test_a_post_from_another_origin_is_still_refused():
    assert post_login(BASE, "http://evil.example") == 403
    assert post_login(BASE, "http://localhost:8080") == 403, "the plain-HTTP origin is another origin"


def test_https_serves_the_inventory_certificate_and_http_redirects_to_the_url_users_type():
    context = ssl.create_default_context(cafile=CA)  # verifies the chain and the name "localhost"
    with urllib.request.urlopen(f"{BASE}/login/", context=context, timeout=30) as r:
        assert r.status == 200
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    served = ssl.get_server_certificate(("localhost", 8443))
    given = (ROOT / ".cache" / "lab" / "ca" / "web.crt").read_text()
    assert ssl.PEM_cert_to_DER_cert(served) == ssl.PEM_cert_to_DER_cert(given)
    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as redirect:
        opener.open("http://localhost:8080/recordings/?page=2", timeout=30)
    assert redirect.value.code == 301
    assert redirect.value.headers["Location"] == f"{BASE}/recordings/?page=2"


def test_the_web_host_has_the_pdf_font_the_app_looks_for():
    found = subprocess.run(
        ["docker", "exec", "lab-web", "/opt/brefboard/current/venv/bin/python", "-c",
         "from brefboard.summaries.exports import find_font; print(*find_font())"],
        capture_output=True, text=True, check=True).stdout.split()
    assert found == ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"]
