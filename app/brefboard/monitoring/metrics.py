"""Every metric the app records, defined once: this module is the registry.

Names are given as prometheus_client wants them: a counter's name without
``_total`` (the client appends it on ``/metrics``). What PromQL sees is listed
in grafana_dashboards/METRICS.md. Code that records a metric imports this
module (``from brefboard.monitoring import metrics``) and nothing defines one
elsewhere: prometheus_client refuses a second metric of the same name.

Multiprocess mode (gunicorn workers, Celery prefork children) writes every
value to a file per process; counters and histograms are summed over the
files, gauges need a ``multiprocess_mode`` saying how to merge them.

The HTTP families of django-prometheus that the dashboards and rules read are
here too (``HttpMetrics``, registered when the web middleware starts); the
database and cache ones stay django-prometheus' own (its DB and cache backends).
"""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, float("inf"))
# Views answer in ms; an upload of a long file or a PDF export takes seconds.
VIEW_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, float("inf"))
# Transcriptions take seconds (a short note on a GPU) to an hour (a long meeting on a CPU).
TASK_BUCKETS = (1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))
AUDIO_BUCKETS = (5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, float("inf"))

# --- The original's metrics (names, types and labels kept) --------------------------------------

ERRORS = Counter("django_error", "Application errors by kind.", labelnames=["type"])
VIEW_LATENCY = Histogram("django_view_latency_seconds", "Latency of each view.", labelnames=["view_name"],
                         buckets=VIEW_BUCKETS)
EXCEPTIONS = Counter("django_exceptions", "Unhandled exceptions by class.", labelnames=["type"])
REQUESTS = Counter("django_request_count", "Requests per view.", labelnames=["view_name"])
AUDIO_RECORDINGS = Counter("django_audio_recordings", "Recordings started (browser or upload).")
TRANSCRIPTION_DURATION = Histogram("django_transcription_duration_seconds", "Duration of a whole transcription task.",
                                   buckets=TASK_BUCKETS)
WHISPER_PROCESSING = Histogram("whisper_processing_time_seconds", "Time Whisper itself took.", buckets=TASK_BUCKETS)
WHISPER_ERRORS = Counter("whisper_errors", "Whisper failures by exception class.", labelnames=["error_type"])
AUDIO_DURATION = Histogram("audio_duration_seconds", "Duration of the recorded audio.", buckets=AUDIO_BUCKETS)
RECORDING_ERRORS = Counter("recording_errors", "Recording failures by kind.", labelnames=["error_type"])
# mostrecent: the last recording's score, whichever process measured it.
RECORDING_QUALITY = Gauge("recording_quality", "Quality score (0..1) of the last recording measured.",
                          multiprocess_mode="mostrecent")
SUMMARIES_GENERATED = Counter("django_summaries_generated", "Summaries generated.")
# Summaries take seconds (extractive) to minutes (a long transcript, a busy GPU); successful ones only.
SUMMARY_GENERATION_SECONDS = Histogram(
    "django_summary_generation_seconds", "Time to generate a summary and its title (successful generations).",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, float("inf")),
)

# --- Added by this project ------------------------------------------------------------------------------

QUEUE_WAIT = Histogram(
    "brefboard_queue_wait_seconds", "Time a job waited between enqueue and a worker starting it.",
    labelnames=["queue"], buckets=(0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, float("inf")),
)
UPLOAD_TO_TRANSCRIPT = Histogram(
    "brefboard_upload_to_transcript_seconds",
    "Time from the upload (or the end of the recording) to the transcript being stored.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, float("inf")),
)
REALTIME_FACTOR = Histogram(
    "brefboard_transcription_realtime_factor",
    "Whisper processing time divided by the audio duration (above 1: slower than real time).",
    labelnames=["device"], buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 4, 8, float("inf")),
)
TRANSCRIPTION_QUALITY = Histogram(
    "brefboard_transcription_quality",
    "Transcription quality (0..1) from Whisper's avg_logprob and no_speech_prob.", buckets=SCORE_BUCKETS,
)
RECORDING_QUALITY_SCORE = Histogram(
    "recording_quality_score", "Recording quality scores (0..1), as a distribution.", buckets=SCORE_BUCKETS,
)
WHISPER_GPU_MEMORY = Gauge(
    "whisper_gpu_memory_bytes", "GPU memory seen by the Whisper worker.",
    # mostrecent, not max: pool children come and go, and a dead one's peak is not today's use.
    labelnames=["gpu", "kind"], multiprocess_mode="mostrecent",
)

# The OpenAI-compatible API (brefboard/api). No token or user in the labels: a label per
# token would be a series per token, and would put who calls the API in every scrape.
API_REQUESTS = Counter(
    "brefboard_api_requests", "Requests to the OpenAI-compatible API by HTTP status and response_format.",
    labelnames=["status", "response_format"],
)
API_AUDIO_SECONDS = Counter("brefboard_api_audio_seconds", "Seconds of audio transcribed through the API.")
API_RATE_LIMITED = Counter("brefboard_api_rate_limited", "API requests refused by the per-token rate limit (429).")
#: response_format values (``none``: before the body was read or not a transcription; ``invalid``: unknown).
API_RESPONSE_FORMATS = ("json", "text", "srt", "vtt", "verbose_json", "none", "invalid")

# Fixed error kinds for django_error_total{type} and recording_errors_total{error_type}.
TRANSCRIPTION_FAILED = "transcription_failed"
AUDIO_SAVE_ERROR = "audio_save_error"
SUMMARY_GENERATION_ERROR = "summary_generation_error"
SUMMARY_ERROR_TYPE = SUMMARY_GENERATION_ERROR  # the name brefboard.library uses for it
HTTP_CLIENT_ERROR = "http_4xx"
HTTP_SERVER_ERROR = "http_5xx"

#: Every value the two labels can take (jobs.py maps HTTP statuses and audio checks onto these).
ERROR_TYPES = (TRANSCRIPTION_FAILED, AUDIO_SAVE_ERROR, SUMMARY_GENERATION_ERROR, HTTP_CLIENT_ERROR, HTTP_SERVER_ERROR)
RECORDING_ERROR_TYPES = (
    "invalid", "conflict", "too_large", "unsupported_format", "unreadable_audio", "other",  # web
    "not_audio", "corrupt", "truncated",  # worker
)

# Every known kind starts at 0. A labelled series is otherwise born at its first event
# with the value 1, and rate() and increase() need an earlier sample to see an increase:
# the first error of each kind after a restart would show on no dashboard and fire no
# alert (tests/monitoring/test_dashboards_reality.py sees it on a real Prometheus).
# Exception classes and Whisper error types cannot be listed in advance.
for _kind in ERROR_TYPES:
    ERRORS.labels(type=_kind)
for _kind in RECORDING_ERROR_TYPES:
    RECORDING_ERRORS.labels(error_type=_kind)
for _kind in API_RESPONSE_FORMATS[:5]:
    API_REQUESTS.labels(status="200", response_format=_kind)


# --- django-prometheus' HTTP families that dashboards and rules read ---------------------------------

class HttpMetrics:
    """The four django-prometheus request families of grafana_dashboards/METRICS.md (section 3).

    Same names, types, labels and latency buckets as django-prometheus' own
    ``Metrics`` (with its PROMETHEUS_METRIC_NAMESPACE and PROMETHEUS_LATENCY_BUCKETS
    settings); its other sixteen families (counts before middlewares, by method,
    by transport, by template, by charset, body-size histograms...) are read by no
    dashboard, rule or test and are not defined. Made once, by the first
    ``PrometheusMiddleware`` (Django must be set up: the settings are read then).
    Where django-prometheus' own middlewares were made first in the same process
    (bench/instrumentation.py --stock), their four families are shared instead.
    """

    _instance: HttpMetrics | None = None

    @classmethod
    def get_instance(cls) -> HttpMetrics:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    FAMILIES = ("requests_by_view_transport_method", "responses_by_status_view_method",
                "requests_latency_by_view_method", "exceptions_by_type")

    def __init__(self) -> None:
        from django_prometheus.conf import NAMESPACE, PROMETHEUS_LATENCY_BUCKETS
        from django_prometheus.middleware import Metrics

        stock = Metrics._instance  # noqa: SLF001
        if stock is not None:  # django-prometheus' own middlewares made theirs first: share them
            for name in self.FAMILIES:
                setattr(self, name, getattr(stock, name))
            return
        self.requests_by_view_transport_method = Counter(
            "django_http_requests_total_by_view_transport_method", "Count of requests by view, transport, method.",
            ["view", "transport", "method"], namespace=NAMESPACE,
        )
        self.responses_by_status_view_method = Counter(
            "django_http_responses_total_by_status_view_method", "Count of responses by status, view, method.",
            ["status", "view", "method"], namespace=NAMESPACE,
        )
        self.requests_latency_by_view_method = Histogram(
            "django_http_requests_latency_seconds_by_view_method",
            "Histogram of request processing time labelled by view.",
            ["view", "method"], buckets=PROMETHEUS_LATENCY_BUCKETS, namespace=NAMESPACE,
        )
        self.exceptions_by_type = Counter(
            "django_http_exceptions_total_by_type", "Count of exceptions by object type.", ["type"],
            namespace=NAMESPACE,
        )


class Children:
    """``metric.labels(*values)``, remembered per label values.

    prometheus_client's ``labels()`` checks its arguments, formats them and takes
    a lock at every call; for label sets that are bounded (view names, methods,
    statuses, error kinds) the child can be looked up once and kept. A child
    stays valid across fork: multiprocess values reopen their file in a new pid.
    """

    __slots__ = ("_cache", "_labels")

    def __init__(self, metric) -> None:
        self._labels = metric.labels
        self._cache: dict = {}

    def __call__(self, *values: str):
        child = self._cache.get(values)
        if child is None:
            child = self._cache[values] = self._labels(*values)
        return child
