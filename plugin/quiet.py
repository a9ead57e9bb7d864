"""Known, harmless messages of TensorFlow, Keras and QKeras, silenced in vhdlspartan's own save,
load and convert paths only: a user's own code keeps every warning.

- `quiet_tf_logs()`: at an entry point, before TensorFlow is imported, hides its C++ start-up
  lines (no CUDA driver, cuDNN/cuFFT/cuBLAS factories, TensorRT) on a machine without a GPU;
- `quiet_keras()`: around a save, load or convert, drops the Python warnings and TensorFlow log
  lines every save of a QKeras model brings (quantizers serialized as constraints, HDF5 chosen
  on purpose: QKeras' QActivation does not survive the .keras format).
"""

from __future__ import annotations

import logging
import os
import warnings
from contextlib import contextmanager

KNOWN_WARNINGS = (r'The `keras\.constraints\.serialize\(\)` API should only be used',
                  r'You are saving your model as an HDF5 file')  # fmt: skip
KNOWN_LOGS = ('Compiled the loaded model, but the compiled metrics have yet to be built',)


def quiet_tf_logs():
    """Hide TensorFlow's C++ log lines; it reads the level once, when it is first imported."""
    os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')


class _DropKnown(logging.Filter):
    def filter(self, record):
        return not record.getMessage().startswith(KNOWN_LOGS)


@contextmanager
def quiet_keras():
    """Inside: the known save/load warnings of Keras and QKeras are not shown; others are."""
    drop = _DropKnown()
    log = logging.getLogger('tensorflow')
    log.addFilter(drop)
    try:
        with warnings.catch_warnings():
            for message in KNOWN_WARNINGS:
                warnings.filterwarnings('ignore', message=message, category=UserWarning)
            yield
    finally:
        log.removeFilter(drop)
