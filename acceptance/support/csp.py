"""What a strict Content-Security-Policy (script-src 'self') would refuse in a page."""
from __future__ import annotations

from html.parser import HTMLParser


class InlineScripts(HTMLParser):
    """Inline scripts (a <script> body or no src), on* handlers and javascript: URLs of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.sources: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...> (inline event handler)")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith("javascript:"):
                self.problems.append(f"<{tag} {name}={value!r}> (javascript: URL)")
        if tag == "script":
            self._in_script = True
            if attrs.get("src"):
                self.sources.append(attrs["src"])
            else:
                self.problems.append("<script> without src (inline script)")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.problems.append(f"<script> with a body: {data.strip()[:60]!r}")


def inline_scripts(html: str) -> InlineScripts:
    found = InlineScripts()
    found.feed(html)
    found.close()
    return found


def directives(policy: str) -> dict[str, list[str]]:
    """``"default-src 'self'; script-src 'self'"`` -> {"default-src": ["'self'"], ...}"""
    out: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out.setdefault(words[0].lower(), words[1:])
    return out


def script_policy_problems(policy: str | None) -> list[str]:
    """Why a CSP header does not restrict scripts to the site's own files ([] when it does)."""
    if not policy:
        return ["no Content-Security-Policy header"]
    d = directives(policy)
    scripts = d.get("script-src", d.get("default-src"))
    problems = []
    if scripts is None:
        problems.append("neither script-src nor default-src: any script may run")
    elif scripts != ["'self'"]:
        problems.append(f"scripts allowed from {' '.join(scripts)!r}, not only 'self'")
    if "unsafe-inline" in policy or "unsafe-eval" in policy:
        problems.append("'unsafe-inline' or 'unsafe-eval' in the policy")
    return problems
