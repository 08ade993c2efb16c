"""Small, opinionated builders on top of Grafana's Foundation SDK.

Every dashboard of this project goes through these helpers so that the rules
the linter checks hold by construction: each query and panel uses the
``${datasource}`` template variable, only current (non-Angular) panel types
exist, and the same ``datasource`` / ``job`` / ``instance`` variables appear
everywhere. The SDK is the only external dependency of the package and it is
used from this module and the dashboard modules only.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders import bargauge as sdk_bargauge
from grafana_foundation_sdk.builders import common as sdk_common
from grafana_foundation_sdk.builders import dashboard as sdk_dashboard
from grafana_foundation_sdk.builders import gauge as sdk_gauge
from grafana_foundation_sdk.builders import heatmap as sdk_heatmap
from grafana_foundation_sdk.builders import prometheus as sdk_prometheus
from grafana_foundation_sdk.builders import stat as sdk_stat
from grafana_foundation_sdk.builders import table as sdk_table
from grafana_foundation_sdk.builders import timeseries as sdk_timeseries
from grafana_foundation_sdk.models import common as m_common
from grafana_foundation_sdk.models import dashboard as m_dashboard

#: The one datasource reference every panel and query uses.
DATASOURCE = m_dashboard.DataSourceRef(type_val="prometheus", uid="${datasource}")

#: Label selector most queries start from: the dashboard's job and instance.
SEL = 'job=~"$job", instance=~"$instance"'

#: Default height of a panel, in grid units.
HEIGHT = 8


def new_dashboard(uid: str, title: str, description: str, tags: list[str],
                  default_job: str) -> sdk_dashboard.Dashboard:
    """A dashboard with the project's defaults and the standard variables.

    ``default_job`` is a regex pre-selected in the ``job`` variable (for
    example ``brefboard.*``); users can change it without editing queries.
    """
    return (
        sdk_dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["brefboard", *tags])
        .editable()
        .timezone("browser")
        .time("now-6h", "now")
        .refresh("1m")
        .tooltip(m_dashboard.DashboardCursorSync.CROSSHAIR)
        .with_variable(datasource_variable())
        .with_variable(label_variable("job", "up", "job", default_job))
        .with_variable(label_variable("instance", 'up{job=~"$job"}', "instance", ".*"))
    )


def datasource_variable() -> sdk_dashboard.DatasourceVariable:
    """``${datasource}``: every Prometheus datasource of the Grafana instance."""
    return (
        sdk_dashboard.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(m_dashboard.VariableOption(selected=True, text="default", value="default"))
    )


def label_variable(name: str, metric: str, label: str, default: str) -> sdk_dashboard.QueryVariable:
    """A multi-value variable listing the values of ``label`` on ``metric``.

    ``All`` is the regex ``.*`` rather than an enumeration so that a new job
    or instance shows up without reloading the dashboard.
    """
    return (
        sdk_dashboard.QueryVariable(name)
        .label(name.capitalize())
        .datasource(DATASOURCE)
        .query({"query": f"label_values({metric}, {label})", "refId": f"{name}-var"})
        .refresh(m_dashboard.VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(m_dashboard.VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(m_dashboard.VariableOption(selected=True, text="All" if default == ".*" else default,
                                            value="$__all" if default == ".*" else default))
    )


def query(expr: str, legend: str = "", ref: str = "A", instant: bool = False,
          heatmap: bool = False) -> sdk_prometheus.Dataquery:
    """One PromQL target bound to ``${datasource}``."""
    q = (
        sdk_prometheus.Dataquery()
        .expr(expr)
        .ref_id(ref)
        .datasource(DATASOURCE)
        .legend_format(legend or "__auto")
    )
    if instant:
        q = q.instant().format(sdk_prometheus_format("table"))
    elif heatmap:
        q = q.format(sdk_prometheus_format("heatmap"))
    else:
        q = q.range()
    return q


def sdk_prometheus_format(name: str):
    """The SDK's enum value for a Prometheus result format."""
    from grafana_foundation_sdk.models import prometheus as m_prometheus
    return {
        "table": m_prometheus.PromQueryFormat.TABLE,
        "heatmap": m_prometheus.PromQueryFormat.HEATMAP,
    }[name]


def _targets(panel, targets: list[sdk_prometheus.Dataquery]):
    for t in targets:
        panel = panel.with_target(t)
    return panel


def _refs(exprs: list[tuple[str, str]], **kw) -> list[sdk_prometheus.Dataquery]:
    """(expr, legend) pairs as queries with refIds A, B, C..."""
    return [query(e, legend, ref=chr(ord("A") + i), **kw) for i, (e, legend) in enumerate(exprs)]


def _panel(builder, title: str, description: str, width: int, height: int, unit: str | None = None):
    """What every panel sets the same way: title, description, ``${datasource}``, size, unit."""
    panel = builder.title(title).description(description).datasource(DATASOURCE).span(width).height(height)
    return panel if unit is None else panel.unit(unit)


def _last_value(panel, thresholds: list[tuple[float | None, str]] | None):
    """Single-value panels (stat, gauge, bar gauge): the last value, coloured by ``thresholds``."""
    return (
        panel
        .reduce_options(sdk_common.ReduceDataOptions().calcs(["lastNotNull"]))
        .thresholds(_thresholds(thresholds or [(None, "green")]))
    )


def timeseries(title: str, exprs: list[tuple[str, str]], unit: str, description: str,
               width: int = 12, stack: bool = False, min_zero: bool = True) -> sdk_timeseries.Panel:
    """A time series panel: one line per series."""
    panel = (
        _panel(sdk_timeseries.Panel(), title, description, width, HEIGHT, unit)
        .line_width(1)
        .fill_opacity(10)
        .show_points(m_common.VisibilityMode.NEVER)
        .legend(sdk_common.VizLegendOptions()
                .display_mode(m_common.LegendDisplayMode.TABLE)
                .placement(m_common.LegendPlacement.BOTTOM)
                .show_legend(True)
                .calcs(["mean", "max", "lastNotNull"]))
        .tooltip(sdk_common.VizTooltipOptions()
                 .mode(m_common.TooltipDisplayMode.MULTI)
                 .sort(m_common.SortOrder.DESCENDING))
    )
    if min_zero:
        panel = panel.min(0)
    if stack:
        panel = panel.stacking(sdk_common.StackingConfig().mode(m_common.StackingMode.NORMAL))
    return _targets(panel, _refs(exprs))


def stat(title: str, expr: str, unit: str, description: str, width: int = 6,
         thresholds: list[tuple[float | None, str]] | None = None, height: int = 4) -> sdk_stat.Panel:
    """A single big number with a sparkline."""
    panel = (
        _panel(sdk_stat.Panel(), title, description, width, height, unit)
        .graph_mode(m_common.BigValueGraphMode.AREA)
        .color_mode(m_common.BigValueColorMode.VALUE)
    )
    panel = _last_value(panel, thresholds)
    return _targets(panel, [query(expr, ref="A")])


def ratio_stat(title: str, numerator: str, denominator: str, description: str,
               thresholds: list[tuple[float | None, str]], window: str = "$__rate_interval",
               width: int = 6) -> sdk_stat.Panel:
    """A stat of one rate over another (an error ratio), as a percentage.

    ``numerator`` and ``denominator`` are series selectors (``metric{labels}``).
    """
    return stat(title, f"sum({rate(numerator, window)}) / sum({rate(denominator, window)})",
                "percentunit", description, width=width, thresholds=thresholds)


def gauge(title: str, expr: str, unit: str, description: str, width: int = 6,
          minimum: float = 0, maximum: float = 1,
          thresholds: list[tuple[float | None, str]] | None = None, height: int = HEIGHT) -> sdk_gauge.Panel:
    """A gauge for a bounded value (a ratio, a percentage)."""
    panel = _last_value(
        _panel(sdk_gauge.Panel(), title, description, width, height, unit).min(minimum).max(maximum),
        thresholds)
    return _targets(panel, [query(expr, ref="A")])


def bargauge(title: str, expr: str, legend: str, unit: str, description: str,
             width: int = 12) -> sdk_bargauge.Panel:
    """Horizontal bars, one per series: good for "by type" breakdowns."""
    panel = _last_value(
        _panel(sdk_bargauge.Panel(), title, description, width, HEIGHT, unit)
        .orientation(m_common.VizOrientation.HORIZONTAL)
        .display_mode(m_common.BarGaugeDisplayMode.GRADIENT),
        None)
    return _targets(panel, [query(expr, legend, ref="A", instant=True)])


def table(title: str, exprs: list[tuple[str, str]], unit: str, description: str,
          width: int = 24) -> sdk_table.Panel:
    """Instant queries merged into one table, one row per label set."""
    panel = (
        _panel(sdk_table.Panel(), title, description, width, HEIGHT, unit)
        .frame_index(0)
        .show_header(True)
        .with_transformation(m_dashboard.DataTransformerConfig(id_val="merge", options={}))
    )
    return _targets(panel, _refs(exprs, instant=True))


def heatmap(title: str, expr: str, unit: str, description: str, width: int = 12) -> sdk_heatmap.Panel:
    """A heatmap of a Prometheus histogram's buckets over time.

    ``expr`` must return ``sum by (le) (increase(x_bucket[...]))``.
    """
    panel = (
        _panel(sdk_heatmap.Panel(), title, description, width, HEIGHT)
        .calculate(False)
        .cell_gap(1)
        .y_axis(sdk_heatmap.YAxisConfig().unit(unit))
        .color(sdk_heatmap.HeatmapColorOptions()
               .mode(_heatmap_color_mode())
               .scheme("Oranges")
               .steps(64))
    )
    return _targets(panel, [query(expr, "{{le}}", ref="A", heatmap=True)])


def _heatmap_color_mode():
    from grafana_foundation_sdk.models import heatmap as m_heatmap
    return m_heatmap.HeatmapColorMode.SCHEME


def row(title: str) -> sdk_dashboard.Row:
    """A section title; panels added after it belong to it."""
    return sdk_dashboard.Row(title)


def _thresholds(steps: list[tuple[float | None, str]]) -> sdk_dashboard.ThresholdsConfig:
    return (
        sdk_dashboard.ThresholdsConfig()
        .mode(m_dashboard.ThresholdsMode.ABSOLUTE)
        .steps([m_dashboard.Threshold(value=v, color=c) for v, c in steps])
    )


def quantiles(metric: str, by: str, legend_prefix: str = "",
              qs: tuple[float, ...] = (0.5, 0.95, 0.99), extra: str = "") -> list[tuple[str, str]]:
    """p50/p95/p99 of a Prometheus histogram, aggregated across instances.

    ``by`` lists the labels kept besides ``le`` (empty for one line per
    quantile). ``extra`` is added to the label selector.
    """
    sel = SEL + (", " + extra if extra else "")
    keep = f"le, {by}" if by else "le"
    out = []
    for q in qs:
        legend = f"p{int(q * 100)}"
        if by:
            legend = "{{" + by + "}} " + legend
        out.append((
            f"histogram_quantile({q}, sum by ({keep}) (rate({metric}_bucket{{{sel}}}[$__rate_interval])))",
            (legend_prefix + legend).strip(),
        ))
    return out


def rate(selector: str, window: str = "$__rate_interval") -> str:
    """``rate(selector[window])``: ``selector`` is ``metric{labels}``."""
    return f"rate({selector}[{window}])"


def series_by(by: str, expr: str, agg: str = "sum") -> list[tuple[str, str]]:
    """One series per value of the ``by`` labels, each label in the legend.

    ``series_by("view, status", rate(sel))`` is
    ``[("sum by (view, status) (rate(sel[$__rate_interval]))", "{{view}} {{status}}")]``.
    """
    legend = " ".join("{{" + label.strip() + "}}" for label in by.split(","))
    return [(f"{agg} by ({by}) ({expr})", legend)]
