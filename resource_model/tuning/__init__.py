"""The resource-aware precision tuner: per-layer bitwidths, storage and lanes that fit a part.

- `tuner.py`: sensitivity, the Optuna search over the resource model's estimates, Pareto fronts,
  fine-tuning and the final pick (`tune`, `TuneSpace`, `TuneResult`);
- `config.py`: the tune YAML (`vhdlspartan tune`), validated before any work;
- `bits.py`: per-layer bitwidths of a Keras model, and a copy of it at other widths.
"""

from .tuner import Candidate, HardwareModel, TuneError, TuneResult, TuneSpace, tune

__all__ = ['Candidate', 'HardwareModel', 'TuneError', 'TuneResult', 'TuneSpace', 'tune']
