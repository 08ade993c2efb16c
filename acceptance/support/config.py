"""The suite's inputs: pytest options, each with an ACCEPTANCE_* environment variable."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent.parent  # acceptance/
REPO = HERE.parent

OPTIONS = [
    # (option, env, help)
    ("--base-url", "ACCEPTANCE_BASE_URL", "the deployed BrefBoard, e.g. http://localhost:8080 (required)"),
    ("--prometheus-url", "ACCEPTANCE_PROMETHEUS_URL", "Prometheus, e.g. http://127.0.0.1:9090 (its tests skip without it)"),
    ("--prometheus-user", "ACCEPTANCE_PROMETHEUS_USER", "Prometheus basic auth user"),
    ("--prometheus-password", "ACCEPTANCE_PROMETHEUS_PASSWORD", "Prometheus basic auth password"),
    ("--expected-targets", "ACCEPTANCE_EXPECTED_TARGETS",
     "a number of Prometheus targets, or a comma-separated list of jobs and job/instance pairs"),
    ("--language", "ACCEPTANCE_LANGUAGE", "en or fr: the espeak voice and the words expected (default en)"),
    ("--user", "ACCEPTANCE_USER", "an existing account (required with --read-only)"),
    ("--password", "ACCEPTANCE_PASSWORD", "its password"),
    ("--artifacts", "ACCEPTANCE_ARTIFACTS", "screenshots, page sources, logs (default acceptance/.artifacts)"),
    ("--transcript-timeout", "ACCEPTANCE_TRANSCRIPT_TIMEOUT", "seconds to wait for a transcript or a summary (default 300)"),
    ("--ca-file", "ACCEPTANCE_CA_FILE",
     "a CA certificate (PEM) the browser and the suite's clients trust, e.g. the lab's local CA"),
]


def truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


@dataclass
class Config:
    base_url: str
    prometheus_url: str | None
    prometheus_user: str | None
    prometheus_password: str | None
    expected_targets: str | None
    language: str
    read_only: bool
    user: str | None
    password: str | None
    artifacts: Path
    transcript_timeout: float
    insecure_tls: bool = False
    ca_file: Path | None = None
    expect_llm: bool = False
    run_id: str = field(default_factory=lambda: time.strftime("%Y%m%d%H%M%S") + "-" + secrets.token_hex(2))

    @property
    def origin(self) -> str:
        parts = urlsplit(self.base_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).hostname or ""

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def session(self):
        """A requests session that reaches only what it is told (no proxy from the environment)."""
        import requests

        s = requests.Session()
        s.trust_env = False
        if self.insecure_tls:
            import urllib3

            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        s.verify = self.verify
        return s

    @property
    def verify(self) -> bool | str:
        """What HTTPS clients check the site's certificate with: the given CA, the system's, or nothing."""
        if self.insecure_tls:
            return False
        return str(self.ca_file) if self.ca_file else True


def from_pytest(config) -> Config:
    def opt(name: str) -> str | None:
        value = config.getoption(name)
        return value if value not in ("", None) else None

    base_url = opt("--base-url")
    if not base_url:
        raise ValueError("--base-url (or ACCEPTANCE_BASE_URL) is required, e.g. http://localhost:8080")
    language = (opt("--language") or "en").lower()
    if language not in ("en", "fr"):
        raise ValueError(f"--language must be en or fr, not {language!r}")
    read_only = bool(config.getoption("--read-only")) or truthy(os.environ.get("ACCEPTANCE_READ_ONLY"))
    user, password = opt("--user"), opt("--password")
    if read_only and not (user and password):
        raise ValueError("--read-only needs an existing account: --user/--password "
                         "(ACCEPTANCE_USER/ACCEPTANCE_PASSWORD)")
    artifacts = Path(opt("--artifacts") or HERE / ".artifacts").resolve()
    return Config(
        base_url=base_url.rstrip("/"),
        prometheus_url=(opt("--prometheus-url") or "").rstrip("/") or None,
        prometheus_user=opt("--prometheus-user"),
        prometheus_password=opt("--prometheus-password"),
        expected_targets=opt("--expected-targets"),
        language=language,
        read_only=read_only,
        user=user,
        password=password,
        artifacts=artifacts,
        transcript_timeout=float(opt("--transcript-timeout") or 300),
        insecure_tls=bool(config.getoption("--insecure-tls")) or truthy(os.environ.get("ACCEPTANCE_INSECURE_TLS")),
        ca_file=_ca_file(opt("--ca-file")),
        expect_llm=bool(config.getoption("--expect-llm")) or truthy(os.environ.get("ACCEPTANCE_EXPECT_LLM")),
    )


def _ca_file(value: str | None) -> Path | None:
    if not value:
        return None
    path = Path(value).resolve()
    if not path.is_file() or "-----BEGIN CERTIFICATE-----" not in path.read_text(errors="replace"):
        raise ValueError(f"--ca-file {value}: not a PEM certificate file")
    return path
