"""Mining tables, one module per aggregate."""

from mining.models.churn import *  # noqa: F403
from mining.models.rules import *  # noqa: F403
from mining.models.segmentation import *  # noqa: F403
