"""RNN, LSTM, GRU and their cells.

Parameters are named, shaped, ordered and initialized like torch's, so state_dicts move
unchanged; the computation is the functional core in ember/_ops/rnn_ops.py.
"""
from __future__ import annotations

import math
import numbers
import warnings

from ... import _ops
from ..._ops.creation import empty, zeros
from ..._ops.dispatch import AutocastState
from ..._tensor import Tensor
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATE_COUNT = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
_FUNCTIONS = {"LSTM": "lstm", "GRU": "gru", "RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu"}


class RNNBase(Module):
    """The shared base of RNN, LSTM and GRU: parameters for every layer and direction, input
    and hidden-state checks, packed sequences and unbatched inputs."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device=None,
                 dtype=None) -> None:
        super().__init__()
        if mode not in _GATE_COUNT:
            raise ValueError(f"Unrecognized RNN mode: {mode}")
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or \
                not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so "
                          "non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", UserWarning,
                          stacklevel=3)
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: "
                            f"{type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gates = _GATE_COUNT[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        new = lambda *shape: Parameter(empty(*shape, device=device, dtype=dtype))  # noqa: E731
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else real_hidden * directions
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                params = [("weight_ih", new(gates, layer_input)),
                          ("weight_hh", new(gates, real_hidden))]
                if bias:
                    params += [("bias_ih", new(gates)), ("bias_hh", new(gates))]
                if proj_size > 0:
                    params.append(("weight_hr", new(proj_size, hidden_size)))
                names = [name + suffix for name, _ in params]
                for name, (_, param) in zip(names, params):
                    setattr(self, name, param)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    @property
    def _flat_weights(self) -> list:
        """The parameters in torch's flat order (always the current ones: assignment, load
        and .to() are reflected)."""
        return [getattr(self, name, None) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list[list[Parameter]]:
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """Kept for API compatibility: weights are never packed into one buffer here."""

    def reset_parameters(self) -> None:
        """Every weight and bias uniform in (-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def _name(self) -> str:
        return "LSTM" if self.mode == "LSTM" else "GRU" if self.mode == "GRU" else "RNN"

    def _hidden_shape(self, batch: int, cell: bool = False) -> tuple:
        directions = 2 if self.bidirectional else 1
        size = self.hidden_size if cell or not self.proj_size else self.proj_size
        return (self.num_layers * directions, batch, size)

    def check_input(self, input: Tensor, batch_sizes: Tensor | None) -> None:
        """Rank, feature size and dtype; in an autocast region a lower-precision input may meet
        float32 weights (the region casts both), so the dtype check is skipped as torch's is."""
        weight = self.weight_ih_l0
        if input.dtype is not weight.dtype and not AutocastState.active:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype "
                             f"({weight.dtype}). Convert input: input.to({weight.dtype}), or "
                             f"convert model: model.to({input.dtype})")
        expected = 2 if batch_sizes is not None else 3
        if input.dim() != expected:
            raise RuntimeError(f"input must have {expected} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected "
                               f"{self.input_size}, got {input.size(-1)}")

    def check_hidden_size(self, hx: Tensor, expected: tuple,
                          msg: str = "Expected hidden size {}, got {}") -> None:
        if tuple(hx.shape) != expected:
            raise RuntimeError(msg.format(expected, list(hx.shape)))

    def permute_hidden(self, hx, permutation: Tensor | None):
        if permutation is None:
            return hx
        if isinstance(hx, tuple):
            return tuple(h.index_select(1, permutation) for h in hx)
        return hx.index_select(1, permutation)

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        batch_sizes = sorted_indices = unsorted_indices = None
        batched = True
        if isinstance(input, PackedSequence):
            input, batch_sizes, sorted_indices, unsorted_indices = input
            batch = int(batch_sizes[0])
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{self._name()}: Expected input to be 2D or 3D, got "
                                 f"{input.dim()}D instead")
            batched = input.dim() == 3
            if not batched:
                input = input.unsqueeze(0 if self.batch_first else 1)
                hx = self._unsqueeze_hidden(hx, lstm)
            elif hx is not None:
                dims = (hx[0].dim(), hx[1].dim()) if lstm else (hx.dim(),)
                if any(d != 3 for d in dims):
                    raise RuntimeError(_hidden_dims_message("batched 3-D", 3, dims, lstm))
            batch = input.shape[0 if self.batch_first else 1]
        if hx is None:
            hx = (self._zero_state(input, batch, False), self._zero_state(input, batch, True)) \
                if lstm else self._zero_state(input, batch, False)
        else:
            hx = self.permute_hidden(tuple(hx) if lstm else hx, sorted_indices)
        self.check_input(input, batch_sizes)
        if lstm:
            self.check_hidden_size(hx[0], self._hidden_shape(batch),
                                   "Expected hidden[0] size {}, got {}")
            self.check_hidden_size(hx[1], self._hidden_shape(batch, True),
                                   "Expected hidden[1] size {}, got {}")
        else:
            self.check_hidden_size(hx, self._hidden_shape(batch))
        fn = getattr(_ops.rnn_ops, _FUNCTIONS[self.mode])
        args = (self._flat_weights, self.bias, self.num_layers, self.dropout, self.training,
                self.bidirectional)
        if batch_sizes is None:
            result = fn(input, hx, *args, self.batch_first)
        else:
            result = fn(input, batch_sizes, hx, *args)
        output = result[0]
        hidden = tuple(result[1:]) if lstm else result[1]
        if batch_sizes is not None:
            output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
            return output, self.permute_hidden(hidden, unsorted_indices)
        if not batched:
            output = output.squeeze(0 if self.batch_first else 1)
            hidden = tuple(h.squeeze(1) for h in hidden) if lstm else hidden.squeeze(1)
        return output, hidden

    def _zero_state(self, input, batch: int, cell: bool):
        """The all-zero hidden (or, for LSTM, cell) state for a batch of `input`."""
        return zeros(*self._hidden_shape(batch, cell), dtype=input.dtype, device=input.device)

    def _unsqueeze_hidden(self, hx, lstm: bool):
        if hx is None:
            return None
        dims = (hx[0].dim(), hx[1].dim()) if lstm else (hx.dim(),)
        if any(d != 2 for d in dims):
            raise RuntimeError(_hidden_dims_message("unbatched 2-D", 2, dims, lstm))
        return (hx[0].unsqueeze(1), hx[1].unsqueeze(1)) if lstm else hx.unsqueeze(1)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _hidden_dims_message(kind: str, want: int, dims: tuple, lstm: bool) -> str:
    if lstm:
        return (f"For {kind} input, hx and cx should also be {want}-D but got "
                f"({dims[0]}-D, {dims[1]}-D) tensors")
    return f"For {kind} input, hx should also be {want}-D but got {dims[0]}-D tensor"


def _rnn_args(args, kwargs, names):
    """torch's RNN/LSTM/GRU take their options positionally or by keyword."""
    if len(args) > len(names):
        raise TypeError(f"expected at most {len(names)} positional arguments, got {len(args)}")
    for name, value in zip(names, args):
        if name in kwargs:
            raise TypeError(f"got multiple values for argument '{name}'")
        kwargs[name] = value
    return kwargs


_RNN_NAMES = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
              "bidirectional")


class RNN(RNNBase):
    """A multi-layer Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), or ReLU
    with nonlinearity='relu'. Returns (output, h_n).

    >>> import ember
    >>> rnn = ember.nn.RNN(4, 3, num_layers=2)
    >>> out, h = rnn(ember.ones(5, 2, 4))
    >>> out.shape, h.shape
    (torch.Size([5, 2, 3]), torch.Size([2, 2, 3]))
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs = _rnn_args(args, kwargs, _RNN_NAMES[:2] + ("num_layers", "nonlinearity")
                           + _RNN_NAMES[3:])
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if self.nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif self.nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' "
                             "or 'relu'.")
        super().__init__(mode, **kwargs)


class LSTM(RNNBase):
    """A multi-layer long short-term memory RNN (gates i, f, g, o), with optional projections
    of the hidden state (proj_size). Returns (output, (h_n, c_n)).

    >>> import ember
    >>> lstm = ember.nn.LSTM(4, 3, batch_first=True, proj_size=2)
    >>> out, (h, c) = lstm(ember.ones(2, 5, 4))
    >>> out.shape, h.shape, c.shape
    (torch.Size([2, 5, 2]), torch.Size([1, 2, 2]), torch.Size([1, 2, 3]))
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs = _rnn_args(args, kwargs, _RNN_NAMES + ("proj_size",))
        super().__init__("LSTM", **kwargs)


class GRU(RNNBase):
    """A multi-layer gated recurrent unit RNN (gates r, z, n). Returns (output, h_n).

    >>> import ember
    >>> out, h = ember.nn.GRU(4, 3, bidirectional=True)(ember.ones(5, 4))
    >>> out.shape, h.shape
    (torch.Size([5, 6]), torch.Size([2, 3]))
    """

    def __init__(self, *args, **kwargs) -> None:
        kwargs = _rnn_args(args, kwargs, _RNN_NAMES)
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", **kwargs)


class RNNCellBase(Module):
    """The shared base of the cells: weight_ih, weight_hh, bias_ih, bias_hh."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int,
                 device=None, dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        new = lambda *shape: Parameter(empty(*shape, device=device, dtype=dtype))  # noqa: E731
        self.weight_ih = new(num_chunks * hidden_size, input_size)
        self.weight_hh = new(num_chunks * hidden_size, hidden_size)
        if bias:
            self.bias_ih = new(num_chunks * hidden_size)
            self.bias_hh = new(num_chunks * hidden_size)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias uniform in (-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        if nonlinearity != "tanh":
            s += f", nonlinearity={nonlinearity}"
        return s

    def _prepare(self, input: Tensor, hx, count: int):
        """Check dimensions, add the batch dimension to unbatched input, zeros for no hx."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D "
                             "instead")
        for h in (hx if isinstance(hx, tuple) else (hx,)):
            if h is not None and h.dim() not in (1, 2):
                raise ValueError(f"{name}: Expected hidden to be 1D or 2D, got {h.dim()}D "
                                 "instead")
        batched = input.dim() == 2
        if not batched:
            input = input.unsqueeze(0)
        if hx is None:
            state = zeros(input.shape[0], self.hidden_size, dtype=input.dtype,
                          device=input.device)
            hx = (state,) * count if count > 1 else state
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if count > 1 else hx.unsqueeze(0)
        return input, hx, batched


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or ReLU).

    >>> import ember
    >>> ember.nn.RNNCell(4, 3)(ember.ones(2, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, hx, batched = self._prepare(input, hx, 1)
        if self.nonlinearity == "tanh":
            fn = _ops.rnn_ops.rnn_tanh_cell
        elif self.nonlinearity == "relu":
            fn = _ops.rnn_ops.rnn_relu_cell
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        out = fn(input, hx, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return out if batched else out.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: returns (h', c').

    >>> import ember
    >>> h, c = ember.nn.LSTMCell(4, 3)(ember.ones(2, 4))
    >>> h.shape, c.shape
    (torch.Size([2, 3]), torch.Size([2, 3]))
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx=None) -> tuple[Tensor, Tensor]:
        input, hx, batched = self._prepare(input, hx, 2)
        h, c = _ops.rnn_ops.lstm_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                                      self.bias_hh)
        return (h, c) if batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: returns h'.

    >>> import ember
    >>> ember.nn.GRUCell(4, 3)(ember.ones(4)).shape
    torch.Size([3])
    """

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        input, hx, batched = self._prepare(input, hx, 1)
        out = _ops.rnn_ops.gru_cell(input, hx, self.weight_ih, self.weight_hh, self.bias_ih,
                                    self.bias_hh)
        return out if batched else out.squeeze(0)
