"""Vision engine: preprocessing, CNN training, hand-crafted baseline, search (no Django)."""

import os

# libgomp's default spin-wait makes torch's 2 CPU threads burn their time slices waiting for
# each other whenever other processes share the cores: measured on this 2-core machine under a
# load of 6, a training step ran 10x faster with passive waiting (895 vs 86 images/s). It only
# takes effect when read before torch first loads OpenMP, hence here; an explicit setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
