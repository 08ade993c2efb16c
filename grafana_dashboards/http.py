"""HTTP by view: request rate, latency percentiles, 4xx and 5xx per Django view.

Built on django-prometheus's own metrics (labels ``view``, ``method``,
``status``), which cover every view including those without the project's
decorators, plus a ``view`` template variable.
"""

from . import panels as p
from .panels import SEL

UID = "brefboard-http"

REQS = "django_http_requests_total_by_view_transport_method_total"
RESP = "django_http_responses_total_by_status_view_method_total"
LAT = "django_http_requests_latency_seconds_by_view_method"
VSEL = SEL + ', view=~"$view"'


def responses(status_class: str = "") -> str:
    """Responses of the selected views; ``status_class`` "4" or "5" keeps 4xx or 5xx only."""
    status = f', status=~"{status_class}.."' if status_class else ""
    return f"{RESP}{{{VSEL}{status}}}"


def build():
    return (
        p.new_dashboard(UID, "BrefBoard / HTTP by view",
                        "Request rate, latency percentiles and errors for each Django view (django-prometheus).",
                        ["http", "django"], ".*")
        .with_variable(p.label_variable("view", f'{REQS}{{job=~"$job"}}', "view", ".*"))
        .with_panel(p.stat(
            "Requests per second", f"sum(rate({REQS}{{{VSEL}}}[$__rate_interval]))", "reqps",
            "All selected views.", width=6))
        .with_panel(p.ratio_stat(
            "5xx ratio", responses("5"), responses(),
            "Share of responses with a 5xx status.",
            thresholds=[(None, "green"), (0.01, "orange"), (0.05, "red")]))
        .with_panel(p.ratio_stat(
            "4xx ratio", responses("4"), responses(),
            "Share of responses with a 4xx status (login redirects are 3xx, not counted).",
            thresholds=[(None, "green"), (0.2, "orange")]))
        .with_panel(p.stat(
            "p95 latency",
            f"histogram_quantile(0.95, sum by (le) (rate({LAT}_bucket{{{VSEL}}}[$__rate_interval])))",
            "s", "95th percentile over all selected views.", width=6,
            thresholds=[(None, "green"), (0.5, "orange"), (2, "red")]))
        .with_panel(p.timeseries(
            "Request rate by view",
            p.series_by("view", p.rate(f"{REQS}{{{VSEL}}}")),
            "reqps", "Requests per second per Django view.", width=12))
        .with_panel(p.timeseries(
            "Latency p50 / p95 / p99 (selected views)",
            p.quantiles(LAT, by="", extra='view=~"$view"'),
            "s", "Percentiles of django_http_requests_latency_seconds_by_view_method over the selected views.",
            width=12))
        .with_panel(p.timeseries(
            "p95 latency by view",
            p.quantiles(LAT, by="view", qs=(0.95,), extra='view=~"$view"'),
            "s", "95th percentile per view.", width=12))
        .with_panel(p.timeseries(
            "p99 latency by view",
            p.quantiles(LAT, by="view", qs=(0.99,), extra='view=~"$view"'),
            "s", "99th percentile per view.", width=12))
        .with_panel(p.timeseries(
            "4xx by view and status",
            p.series_by("view, status", p.rate(responses("4"))),
            "reqps", "Client errors: 400 bad input, 403 forbidden, 404 another user's object...", width=12,
            stack=True))
        .with_panel(p.timeseries(
            "5xx by view and status",
            p.series_by("view, status", p.rate(responses("5"))),
            "reqps", "Server errors. See the Overview's exceptions panel for their classes.", width=12,
            stack=True))
        .with_panel(p.table(
            "Views",
            [(f"sum by (view) (rate({REQS}{{{VSEL}}}[$__range]))", "req/s"),
             (f"histogram_quantile(0.95, sum by (le, view) (rate({LAT}_bucket{{{VSEL}}}[$__range])))", "p95"),
             (f'sum by (view) (increase({responses("5")}[$__range]))', "5xx")],
            "short", "Per view over the dashboard's time range: request rate, p95 latency (s), 5xx count."))
    )
