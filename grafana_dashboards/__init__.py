"""BrefBoard's Grafana dashboards, written as code with Grafana's Foundation SDK.

``python -m grafana_dashboards.build`` renders every dashboard into
``grafana_dashboards/dashboards/*.json``; that JSON is committed and is what
the ``grafana`` Ansible role provisions. ``METRICS.md`` is the contract with
the application's instrumentation.
"""
