"""The PromQL of the dashboard panels, from the project's dashboards as code.

One source of truth: the committed JSON of grafana_dashboards/dashboards/ and
the Grafana-variable substitution of grafana_dashboards/queries.py, loaded from
source (without the Grafana SDK that its ``build`` module imports), as
app/tests/monitoring/test_dashboards_reality.py does.

The user's monitoring document (brefboard-monitoring.fr.md, "Visualisation
avec Grafana") asks for five panels; the overview dashboard carries them under
these titles (grafana_dashboards/overview.py and its test
test_overview_has_the_five_panels_of_the_document):
"""
from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

from .config import REPO

#: The document's words -> the title (prefix) of the panel in brefboard-overview.
DOCUMENT_PANELS = {
    "Temps de réponse des vues Django": "Django view response time",
    "Nombre d'enregistrements audio": "Audio recordings",
    "Durée des tâches de transcription": "Transcription task duration",
    "Qualité des transcriptions": "Transcription quality",
    "Temps de génération des résumés": "Summary generation time",
}
OVERVIEW_UID = "brefboard-overview"


def _queries_module():
    src = REPO / "grafana_dashboards"
    if not (src / "queries.py").is_file():
        raise RuntimeError(f"{src}/queries.py is missing: the suite reads the dashboards from the repository")
    name = "_acceptance_grafana_dashboards"
    if f"{name}.queries" in sys.modules:
        return sys.modules[f"{name}.queries"]
    package = types.ModuleType(name)
    package.__path__ = [str(src)]
    sys.modules[name] = package
    build = types.ModuleType(f"{name}.build")
    build.OUT_DIR = src / "dashboards"
    sys.modules[build.__name__] = build
    for sub in ("lint", "queries"):
        spec = importlib.util.spec_from_file_location(f"{name}.{sub}", src / f"{sub}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    return sys.modules[f"{name}.queries"]


def panel_queries(title_prefix: str, uid: str = OVERVIEW_UID) -> list[tuple[str, str, str]]:
    """[(panel title, refId, PromQL with Grafana's variables substituted)] of the panel."""
    queries = _queries_module()
    out = [(q.panel, q.ref, q.expr) for q in queries.all_queries(Path(REPO / "grafana_dashboards" / "dashboards"))
           if q.dashboard == uid and q.panel.startswith(title_prefix)]
    return out
