"""On the lab of `make lab` (skipped when it is not up): a browser's login POST
to the published http://localhost:8080 passes Django's Origin check, one from
another origin does not, and the web host has the PDF export's font.
"""
import http.cookiejar
import re
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
import yaml

from conftest import ROOT, lab_running

SECRETS = ROOT / ".cache" / "lab" / "secrets.yml"
pytestmark = pytest.mark.skipif(not (lab_running() and SECRETS.exists()), reason="the lab is not up (make lab)")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post_login(base: str, origin: str) -> int:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
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
    assert post_login("http://localhost:8080", "http://localhost:8080") == 302


def test_a_post_from_another_origin_is_still_refused():
    assert post_login("http://localhost:8080", "http://evil.example") == 403


def test_the_web_host_has_the_pdf_font_the_app_looks_for():
    found = subprocess.run(
        ["docker", "exec", "lab-web", "/opt/brefboard/current/venv/bin/python", "-c",
         "from brefboard.summaries.exports import find_font; print(*find_font())"],
        capture_output=True, text=True, check=True).stdout.split()
    assert found == ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"]
