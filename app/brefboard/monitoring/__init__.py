"""Prometheus instrumentation of BrefBoard: metrics, middlewares, decorators, endpoints.

The metric names are a contract with the dashboards and alert rules
(grafana_dashboards/METRICS.md). Importing this package is cheap on purpose:
the gunicorn configuration (``brefboard.monitoring.gunicorn``) loads it in the
master process, which must not import prometheus_client before
PROMETHEUS_MULTIPROC_DIR is set.
"""
