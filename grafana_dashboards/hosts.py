"""Hosts: CPU, memory, disk and network from node_exporter, per instance."""

from . import panels as p
from .panels import SEL

UID = "brefboard-hosts"

#: Filesystems worth watching: real disks, not tmpfs, overlays or snaps.
FS = SEL + ', fstype!~"tmpfs|ramfs|overlay|squashfs|nsfs|fuse.*"'
#: Network devices: physical and bonded links, not loopback or containers.
NET = SEL + ', device!~"lo|veth.*|docker.*|br-.*"'


def build():
    return (
        p.new_dashboard(UID, "BrefBoard / Hosts",
                        "CPU, memory, disk and network of every host running node_exporter.",
                        ["hosts", "node-exporter"], ".*")
        .with_panel(p.table(
            "Hosts",
            [(f'1 - avg by (instance) (rate(node_cpu_seconds_total{{{SEL}, mode="idle"}}[$__rate_interval]))',
              "CPU"),
             (f"1 - max by (instance) (node_memory_MemAvailable_bytes{{{SEL}}} / "
              f"node_memory_MemTotal_bytes{{{SEL}}})", "memory"),
             (f"1 - min by (instance) (node_filesystem_avail_bytes{{{FS}}} / node_filesystem_size_bytes{{{FS}}})",
              "fullest disk")],
            "percentunit", "Per host now: CPU busy, memory used, the fullest filesystem."))
        .with_panel(p.timeseries(
            "CPU busy",
            [(f'1 - avg by (instance) (rate(node_cpu_seconds_total{{{SEL}, mode="idle"}}[$__rate_interval]))',
              "{{instance}}")],
            "percentunit", "Share of CPU time not idle, averaged over the host's CPUs.", width=12))
        .with_panel(p.timeseries(
            "Load (1 min) per CPU",
            [(f"max by (instance) (node_load1{{{SEL}}}) / "
              f'count by (instance) (node_cpu_seconds_total{{{SEL}, mode="idle"}})', "{{instance}}")],
            "short", "Load average divided by the number of CPUs; above 1 means waiting work.", width=12))
        .with_panel(p.timeseries(
            "Memory used",
            [(f"1 - max by (instance) (node_memory_MemAvailable_bytes{{{SEL}}} / "
              f"node_memory_MemTotal_bytes{{{SEL}}})", "{{instance}}")],
            "percentunit", "1 - MemAvailable / MemTotal.", width=12))
        .with_panel(p.timeseries(
            "Disk used by mount point",
            [(f"1 - max by (instance, mountpoint) (node_filesystem_avail_bytes{{{FS}}} / "
              f"node_filesystem_size_bytes{{{FS}}})", "{{instance}} {{mountpoint}}")],
            "percentunit", "Used share of each real filesystem (space available to unprivileged users).",
            width=12))
        .with_panel(p.timeseries(
            "Network received",
            p.series_by("instance", p.rate(f"node_network_receive_bytes_total{{{NET}}}")),
            "Bps", "Bytes per second received, loopback and container bridges excluded.", width=12))
        .with_panel(p.timeseries(
            "Network transmitted",
            p.series_by("instance", p.rate(f"node_network_transmit_bytes_total{{{NET}}}")),
            "Bps", "Bytes per second sent, loopback and container bridges excluded.", width=12))
        .with_panel(p.timeseries(
            "Disk I/O time",
            p.series_by("instance, device", p.rate(f"node_disk_io_time_seconds_total{{{SEL}}}"), agg="max"),
            "percentunit", "Share of time each block device was busy.", width=24))
    )
