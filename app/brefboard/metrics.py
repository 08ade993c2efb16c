"""The custom metrics, where the original kept them; defined in ``brefboard.monitoring.metrics``."""
from brefboard.monitoring.metrics import *  # noqa: F401,F403
