"""The op registry: every operation is one OpDef, read by eager execution, autograd, the JIT,
ONNX export and the generated test suite."""
from __future__ import annotations

from ..autograd.graph import BackwardNode

REGISTRY: dict[str, type["OpDef"]] = {}
NO_ORDERING = "complex tensors have no ordering; compare their .real, .imag or .abs() instead"
_COMPLEX_NAMES = {8: "ComplexFloat", 16: "ComplexDouble"}
# Composite ops (plain Python over registry ops) and their samples, so the generated suite
# checks them against torch too.
COMPOSITES: dict[str, tuple] = {}


class OpDef:
    """One operation. Subclasses define `forward(ctx, xp, *arrays, **attrs)` on raw arrays and
    `backward(ctx, *grads)` in ember ops (so double backward works).

    Class attributes describe the op to every reader of the registry:
      promote      how inputs are cast before forward: "common" (PyTorch's result_type over
                   tensors and scalars), "float" (common, then integers to the default float),
                   or None (inputs passed as they are).
      promote_args which argument positions take part in promotion (None: all).
      holomorphic  backward is written as g * f'(z) (with real coefficients), so for complex
                   values autograd runs it on conj(g) and conjugates what it returns, giving
                   torch's convention g * conj(f'(z)) (mul, exp, matmul, ...). Ops whose
                   backward already follows that convention (real, abs, conj) leave it False.
      widens       float16/bfloat16 inputs compute in float32, cast back after (True); False
                   for ops whose result is a fact of the storage format's bits (nextafter:
                   the next float16 after 1 is lost when a float32 step is rounded back).
      differentiable  whether backward exists; outputs of other ops never require grad.
      is_view      True when outputs always alias the first input's memory (transpose, expand),
                   "maybe" when only some calls do (reshape, getitem: checked per call).
      changes_device  outputs live on attrs["device"] rather than the inputs' device.
      forward_inplace optional `(xp, target, *arrays, **attrs)` writing into target directly;
                   used by in-place calls that record no graph (dtype checks are done by
                   the caller; it must cast its result into target's dtype, e.g. with
                   `xp.add(target, y, out=target, casting="unsafe")`).
      pointwise    elementwise, so the JIT may fuse it.
      fresh        forward always returns newly allocated arrays, never an input or a view
                   of one: the JIT's memory plan may hand them to later results once dead.
      creates      makes a new tensor from its attributes alone (factories: full, arange).
                   jit.trace and ember.compile record the op, so a graph whose sizes follow
                   its inputs' rebuilds the tensor at each call's sizes (ONNX export keeps
                   such tensors as constants).
      blas         forward runs BLAS matrix products, whose thread pool spins around each
                   call: the JIT runs fused kernels beside them on one thread (two thread
                   pools spinning for the same cores slow both several-fold).
      gemm         every BLAS product forward runs goes through _backend.gemm, so inside a
                   graph that holds OpenBLAS to one thread it runs on numba's threads
                   (openblas.in_graph): a graph takes over only when all its blas ops do.
      writes       None, or `writes(attrs)` giving the positions of the arguments forward
                   writes into in place (batch norm's running statistics in training):
                   apply bumps their versions, and a trace expects the write.
      quiet_fp     NumPy's floating-point warnings are silenced while forward runs, as
                   torch is silent about inf and nan (False for user code: autograd.Function).
      check_dtypes a function of the call's arguments that raises when their dtypes may not
                   mix (matmul, convolution), run by `apply` whenever they differ: the
                   public functions check first with their own messages, and graphs that
                   replay the op (a trace called with float64) refuse as eager does.
      autocast     the op's policy in an autocast region (ember.autocast): "lower" casts
                   its float32 inputs to the region's dtype (matmul, convolution), "float32"
                   lifts half-precision inputs (losses); None leaves them (see
                   dispatch.autocast_inputs).
      complex      False for ops torch has no complex form of: forward (and forward_inplace)
                   then refuse complex arrays with torch's error, where NumPy would compute
                   on them (pools, norms, softmax, losses) or fail with its own message; a
                   string instead of False is the refusal's reason (NO_ORDERING for max,
                   sort, clamp, < ...).
      unsigned     True when the op computes on torch's shell unsigned dtypes (uint16,
                   uint32, uint64); else the name of torch's kernel that refuses them (add's
                   "add_stub"), or a function of the arrays giving it (matmul's, by rank):
                   `apply` and in-place calls then raise torch's NotImplementedError when
                   the promoted dtype is one of them (promote "common" ops only).
      sized_by_values  the outputs' sizes follow the input values, not only their sizes
                   (nonzero, unique): True; or a function `(args, attrs) -> list` of the
                   arrays that size them in this call (boolean-mask indexing: the masks).
                   ember.compile breaks the graph where such values are traced (a graph's
                   sizes are fixed), as torch.compile does by default.
      torch_node   the class name torch gives the op's graph node (`grad_fn`), where it is
                   not the registered name in CamelCase + "Backward0" (vector_norm's is
                   "LinalgVectorNormBackward0"); or a function `(args, attrs) -> name` where
                   torch's node depends on the call (getitem: by the kind of index; matmul:
                   by the operands' ranks), which `dispatch._record` reads when recording.
                   Composites give their output torch's node name with `name_node`.
      onnx         the ONNX lowering: an op name, or a function of (builder, node).
      samples      test cases for the generated suite (see ember.testing.opinfo).
    """

    name = ""
    promote = "common"
    promote_args = None
    widens = True
    holomorphic = False
    differentiable = True
    is_view = False
    changes_device = False
    pointwise = False
    fresh = False
    creates = False
    blas = False
    gemm = False
    writes = None
    quiet_fp = True
    check_dtypes = None
    autocast = None
    complex = True
    unsigned = True
    sized_by_values = False
    torch_node = None
    node_of = None  # set by register: torch_node when it is a function of the call
    onnx = None
    samples = ()
    forward_inplace = None
    node_class = BackwardNode

    @staticmethod
    def backward(ctx, *grads):
        raise RuntimeError(f"the derivative of '{ctx._node.opdef.name}' is not implemented")

    def __init_subclass__(cls, **kwargs):
        """Every OpDef, registered or private (autograd.Function, module hooks), gets its own
        graph-node class so `grad_fn` names it."""
        super().__init_subclass__(**kwargs)
        for fn in ("forward", "backward", "forward_inplace", "writes"):
            if fn in cls.__dict__ and not isinstance(cls.__dict__[fn], staticmethod):
                setattr(cls, fn, staticmethod(cls.__dict__[fn]))
        cls.node_class = type(f"{cls.__name__}Backward0", (BackwardNode,),
                              {"__slots__": (), "opdef": cls})


def register(name: str, **meta):
    """Class decorator: register an OpDef under `name`, with metadata overriding its defaults."""
    def wrap(cls):
        if name in REGISTRY:
            raise ValueError(f"op {name!r} is registered twice")
        cls.name = name
        for key, value in meta.items():
            setattr(cls, key, value)
        if cls.complex is not True:
            _refuse_complex_arrays(cls)
        node = cls.torch_node
        if node is None or callable(node):
            cls.node_of = node
            node = "".join(part.capitalize() for part in name.split("_")) + "Backward0"
        cls.node_class = named_node_class(cls, node)
        REGISTRY[name] = cls
        return cls
    return wrap


_NODE_CLASSES: dict = {}


def named_node_class(opdef, name: str) -> type:
    """The graph-node class called `name` that runs `opdef`'s backward (made once per pair)."""
    cls = _NODE_CLASSES.get((opdef, name))
    if cls is None:
        cls = _NODE_CLASSES[opdef, name] = type(name, (BackwardNode,), {"__slots__": (),
                                                                        "opdef": opdef})
    return cls


def name_node(tensor, name: str):
    """Give the node a composite's output ends in torch's name for the composite (linear's
    "AddmmBackward0", mse_loss's "MseLossBackward0"), so `grad_fn` reads as in torch; the
    node's behaviour is unchanged. Returns `tensor`."""
    node = tensor._grad_fn
    opdef = getattr(node, "opdef", None)
    if opdef is not None and REGISTRY.get(opdef.name) is opdef:
        node.__class__ = named_node_class(opdef, name)
    return tensor


def refuse_complex(op: str, *values, why: str | None = None) -> None:
    """Raise where torch has no complex form of `op` (arrays among `values` are checked):
    NumPy would order complex values lexicographically, or compute on them anyway."""
    for v in values:
        if getattr(v, "dtype", None) is not None and v.dtype.kind == "c":
            if why is None:
                raise NotImplementedError(f"\"{op}\" not implemented for "
                                          f"'{_COMPLEX_NAMES.get(v.dtype.itemsize, 'Complex')}'")
            raise RuntimeError(f"{op}(): {why}")


def refuse_unsigned(kernel, *values) -> None:
    """Raise torch's NotImplementedError where its `kernel` (a name, or a function of `values`
    giving it) has no form for the shell unsigned dtypes (uint16, uint32, uint64) among the
    arrays in `values`: arithmetic on them is left undefined by torch, where NumPy would
    compute it."""
    for v in values:
        dt = getattr(v, "dtype", None)
        if dt is not None and dt.kind == "u" and dt.itemsize > 1:
            name = kernel(*values) if callable(kernel) else kernel
            raise NotImplementedError(f"\"{name}\" not implemented for "
                                      f"'UInt{8 * dt.itemsize}'")


def _refuse_complex_arrays(cls) -> None:
    """Make an op's forward and forward_inplace refuse complex arrays (OpDef.complex)."""
    forward, inplace = cls.forward, cls.forward_inplace
    why = cls.complex or None

    def refusing_forward(ctx, xp, *arrays, **attrs):
        refuse_complex(cls.name, *arrays, why=why)
        return forward(ctx, xp, *arrays, **attrs)
    cls.forward = staticmethod(refusing_forward)
    if inplace is not None:
        def refusing_inplace(xp, target, *arrays, **attrs):
            refuse_complex(cls.name, target, *arrays, why=why)
            return inplace(xp, target, *arrays, **attrs)
        cls.forward_inplace = staticmethod(refusing_inplace)


def tensor_method(*names):
    """Decorator: also expose a public function as Tensor methods (`names`, default its own)."""
    def wrap(fn):
        from .._tensor import Tensor
        for n in names or (fn.__name__,):
            setattr(Tensor, n, fn)
        return fn
    return wrap


def composite(name: str | None = None, samples=()):
    """Decorator for a composite op: a public function over registry ops, tested via `samples`."""
    def wrap(fn):
        key = name or fn.__name__
        if key in COMPOSITES:
            raise ValueError(f"composite {key!r} is registered twice")
        COMPOSITES[key] = tuple(samples)
        return fn
    return wrap
