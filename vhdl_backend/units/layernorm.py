"""QLayerNormalization over the last axis: rows of n features (see vhdlspartan.layers.QLayerNormalization).

Lowered to up to three units in schedule order: a cast of the input to the layer's input type
(``vs_map``, only when it changes values), the normalization z = reference_layernorm(x) into
an intermediate buffer (``vs_layernorm.vhd``, with the inverse square root table in a ROM of
its own), and y = cast(z * gamma + beta) per feature (``vs_affine.vhd``, a BatchNormUnit).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ...errors import UnsupportedError
from ...fixed import bits_for_range, fixed_type_from_hls4ml
from ...integer_ops import LayerNormSpec, epsilon_terms, reference_layernorm, signed_type
from .activation import cast_input
from .base import Buffer, Emitted, Rom, configured_type, pack_words, precision_entry, table_reader_emit, vhdl_name
from .batchnorm import BatchNormUnit


@dataclass
class LayerNormUnit:
    entity = 'vs_layernorm'  # vhdl/vs_layernorm.vhd
    label = 'layernorm'  # instance label suffix in the top level
    name: str
    layer_name: str
    x: Buffer  # codes on spec.in_type's grid and within its range
    y: Buffer  # z codes (spec.z_type)
    rows: int
    spec: LayerNormSpec
    table_storage: str

    def __post_init__(self):
        xt, it = self.x.type, self.spec.in_type
        if not it.holds(xt):
            raise UnsupportedError(f'layer {self.layer_name!r} (QLayerNormalization): input buffer type {xt} is not '
                                   f'within the layer input type {it}')  # fmt: skip
        if self.rows * self.spec.n != self.x.depth or self.y.depth != self.x.depth:
            raise UnsupportedError(f'layer {self.layer_name!r} (QLayerNormalization): {self.x.depth} inputs are not '
                                   f'{self.rows} rows of {self.spec.n}')  # fmt: skip

    @property
    def n(self) -> int:
        return self.spec.n

    @property
    def sum_width(self) -> int:
        """Signed width of S = sum(x) (and of n * x)."""
        it = self.spec.in_type
        return bits_for_range(self.n * it.min_int, self.n * it.max_int)

    def emulate(self, env):
        q = env[self.x.name].reshape(-1, self.rows, self.n)
        return reference_layernorm(q, self.spec).reshape(q.shape[0], -1)

    def cycles(self) -> int:
        """Per row three passes of n reads and 5 cycles between passes 2 and 3; the last z is
        written 9 cycles after the last read (vs_layernorm.vhd)."""
        return self.rows * (3 * self.n + 5) + 9

    def rom(self) -> Rom:
        return Rom(f'{self.name}_inv', self._rom_words, self.spec.inv_bits, self.table_storage)

    @cached_property
    def _rom_words(self):  # fixed once lowered; the resource model reads the ROM at every estimate
        return pack_words(self.spec.table().reshape(-1, 1), self.spec.inv_bits)

    def generics(self, engine) -> dict:
        """The VHDL generics of the unit's entity (also what the resource model reads)."""
        s = self.spec
        return dict(
            ROWS=self.rows, N=self.n, AW=self.x.aw, X_W=self.x.type.width, X_SIGNED=self.x.type.signed,
            S_W=self.sum_width, D_W=s.d_width, V_W=s.v_width, TB=s.table_bits, INV_W=s.inv_bits,
            E_MIN=s.e_min, E_MAX=s.e_max, P_W=s.product_width, SHIFT=s.inv_frac + s.e_max - s.z_type.frac,
            Z_W=s.z_type.width, **(dict(EPS_M=s.eps_m, EPS_SH=s.eps_shift) if s.v_add else {}),
        )  # fmt: skip

    def emit(self, engine) -> Emitted:
        return table_reader_emit(self, engine, self.rom())


def _attr(layer, key: str) -> int:
    value = layer.get_attr(key)
    if value is None:
        raise UnsupportedError(f'layer {layer.name!r} (QLayerNormalization): attribute {key!r} is missing')
    return int(value)


def _features(layer, key: str, t, n: int) -> np.ndarray:
    data = layer.get_attr(key)
    if data is None:
        raise UnsupportedError(f'layer {layer.name!r} (QLayerNormalization): attribute {key!r} is missing')
    values = np.asarray(data, np.float64).reshape(-1)
    if values.size != n:
        raise UnsupportedError(f'layer {layer.name!r} (QLayerNormalization): {key} has {values.size} values '
                               f'for {n} features')  # fmt: skip
    return t.from_float(values)


def lower_layer_norm(layer, design) -> list:
    """Units of a VSLayerNormalization layer (QLayerNormalization): its own declared types."""
    what = f'layer {layer.name!r} (QLayerNormalization)'
    n = _features_per_row(layer, design, what)
    in_type = signed_type(_attr(layer, 'input_bits'), _attr(layer, 'input_integer'))
    z_type = signed_type(_attr(layer, 'norm_bits'), _attr(layer, 'norm_integer'))
    g_type = signed_type(_attr(layer, 'gamma_bits'), _attr(layer, 'gamma_integer'))
    b_type = signed_type(_attr(layer, 'beta_bits'), _attr(layer, 'beta_integer'))
    spec = _spec(what, n, in_type, _attr(layer, 'table_bits'), _attr(layer, 'inv_bits'), z_type)
    gamma = _features(layer, 'gamma_data', g_type, n)
    beta = _features(layer, 'beta_data', b_type, n)
    return _units(layer, design, spec, g_type, b_type, gamma, beta)


# Post-training quantization of tf.keras LayerNormalization (hls4ml IR 'LayerNormalization'):
# hls4ml config keys of the layer (layer name or type level) and their defaults.
PTQ_TABLE_SIZE = 1024  # `TableSize`: entries of the inverse square root table (a power of 2, 16..4096)
PTQ_INV_BITS = 16  # width of Precision `table` (the table entries), narrowed until the product fits
PTQ_MAX_INPUT_WIDTH = 24  # a wider incoming type is cast to the model's default precision first


def lower_keras_layer_norm(layer, design) -> list:
    """tf.keras LayerNormalization over the last axis, post-training: the input stays on its
    grid (or Precision `input`; an incoming type wider than 24 bits is cast to the model's
    default precision), z takes Precision `norm` (default 16 bits, integer bits for
    |z| <= sqrt(n)), gamma and beta the layer's `scale` and `bias` types, y its result type."""
    what = f'layer {layer.name!r} (LayerNormalization)'
    n = _features_per_row(layer, design, what)
    cfg_has = _configured(layer)
    in_type = design.input_buffer(layer).type
    if cfg_has('input'):
        in_type = configured_type(layer, 'input', None)
    elif in_type.width > PTQ_MAX_INPUT_WIDTH:  # e.g. hls4ml's exact 'auto' type of the Add before it
        in_type = configured_type(layer, 'input', layer.model.config.model_precision['default'])
    z_int = math.ceil(math.log2(math.sqrt(n))) + 2  # hls4ml integer bits, sign included
    z = configured_type(layer, 'norm', f'fixed<16,{z_int}>')
    z_type = signed_type(z.width, z.integer - 1 if z.signed else z.integer)  # z rounds half to even, saturates
    size = int(layer.get_attr('table_size', PTQ_TABLE_SIZE))
    if size < 16 or size > 4096 or size & (size - 1):
        raise UnsupportedError(f'{what}: TableSize {size} is not valid; use a power of 2 from 16 to 4096')
    table_bits = size.bit_length() - 1
    eps = epsilon_terms(n, in_type, float(layer.get_attr('epsilon', 1e-3)))
    if cfg_has('table'):
        spec = _spec(what, n, in_type, table_bits, configured_type(layer, 'table', None).width, z_type, eps)
    else:
        spec = None
        for inv_bits in range(PTQ_INV_BITS, 3, -1):  # the widest entries whose product fits 62 bits
            try:
                spec = LayerNormSpec(n, in_type, table_bits, inv_bits, z_type, *eps)
                break
            except UnsupportedError:
                continue
        if spec is None:
            spec = _spec(what, n, in_type, table_bits, 4, z_type, eps)  # raises, naming the product width
    ws = layer.weights
    g_type = fixed_type_from_hls4ml(ws['scale'].type.precision, f'{what} scale')
    b_type = fixed_type_from_hls4ml(ws['bias'].type.precision, f'{what} bias')
    gamma = g_type.from_float(np.asarray(ws['scale'].data, np.float64).reshape(-1))
    beta = b_type.from_float(np.asarray(ws['bias'].data, np.float64).reshape(-1))
    if gamma.size != n or beta.size != n:
        raise UnsupportedError(f'{what}: {gamma.size} scale and {beta.size} bias values for {n} features')
    return _units(layer, design, spec, g_type, b_type, gamma, beta)


def _configured(layer):
    return lambda var: precision_entry(layer, var) is not None


def _features_per_row(layer, design, what) -> int:
    shape = tuple(int(d) for d in layer.get_input_variable().shape)
    n = shape[-1] if shape else 0
    if n < 1 or design.input_buffer(layer).depth % n:
        raise UnsupportedError(f'{what}: input of shape {shape} does not split into rows of {n} features')
    return n


def _spec(what, n, in_type, table_bits, inv_bits, z_type, eps=(0, 0)) -> LayerNormSpec:
    try:
        return LayerNormSpec(n, in_type, table_bits, inv_bits, z_type, *eps)
    except UnsupportedError as e:
        raise UnsupportedError(f'{what}: {e}') from None


def _units(layer, design, spec, g_type, b_type, gamma, beta) -> list:
    """[cast to spec.in_type], normalization into a z buffer, y = cast(z * gamma + beta)."""
    n = spec.n
    units, x = cast_input(design, layer, spec.in_type)
    z = Buffer(design._unique(f't_{vhdl_name(layer.name)}_z'), x.depth, spec.z_type, design.storage(layer, 'result', 0))
    design.buffers[f'{layer.outputs[0]}:z'] = z
    units.append(LayerNormUnit(design._unique(f'u_{vhdl_name(layer.name)}_norm'), layer.name, x, z, x.depth // n,
                               spec, design.storage(layer, 'weight', 0)))  # fmt: skip
    storage = design.storage(layer, 'weight', n * (g_type.width + b_type.width))
    units.append(BatchNormUnit(design.unit_name(layer), layer.name, z, design.output_buffer(layer), n,
                               g_type, b_type, gamma, beta, storage))  # fmt: skip
    return units
