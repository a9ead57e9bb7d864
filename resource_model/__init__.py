"""Resource model: the device table, the analytical estimate, the tuner built on them.

`vhdlspartan.resource_model.estimate(hm)` is the function (as the README shows it); the module it
comes from stays importable by its dotted path (`from vhdlspartan.resource_model.estimate import
estimate_design`), because imports of a submodule go through sys.modules, not this attribute.
"""

from .devices import DEVICES, Device, get_device  # noqa: F401
from .estimate import estimate, estimate_keras  # noqa: F401  (binds the names over the submodule's)
