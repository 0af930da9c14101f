"""ONNXProgram: what ember.onnx.export returns when asked (no file, or `dynamo=True`), as
torch.onnx.export does: the ONNX model, a way to save it and to run it in onnxruntime."""
from __future__ import annotations

import copy
import os

import numpy as np


class ONNXProgram:
    """An exported model: `model_proto` (an onnx.ModelProto), `save(path)` and calling it on
    ember tensors (run in onnxruntime, which must be installed).

    >>> import ember
    >>> program = ember.onnx.export(ember.nn.Linear(3, 2), (ember.ones(1, 3),))
    >>> program.model_proto.graph.input[0].name
    'input'
    """

    def __init__(self, model_proto):
        self.model_proto = model_proto
        self._session = None

    def __repr__(self) -> str:
        graph = self.model_proto.graph
        return (f"ONNXProgram(inputs={[i.name for i in graph.input]}, "
                f"outputs={[o.name for o in graph.output]}, nodes={len(graph.node)})")

    def save(self, destination, *, include_initializers: bool = True,
             keep_initializers_as_inputs: bool = False,
             external_data: bool | None = None) -> None:
        """Write the model to `destination`; without `include_initializers` the weights are
        left out, with `keep_initializers_as_inputs` they are also graph inputs, and with
        `external_data` they go to a separate "<file name>.data" file beside it."""
        import onnx
        proto = self.model_proto
        if not include_initializers or keep_initializers_as_inputs:
            proto = copy.deepcopy(proto)
            if keep_initializers_as_inputs:
                add_initializers_as_inputs(proto)
            if not include_initializers:
                del proto.graph.initializer[:]
        if external_data:
            location = os.path.basename(os.fspath(destination)) + ".data"
            onnx.save_model(proto, destination, save_as_external_data=True,
                            all_tensors_to_one_file=True, location=location,
                            size_threshold=0)
        else:
            onnx.save_model(proto, destination)

    def initialize_inference_session(self, initializer=None) -> None:
        """Create the onnxruntime session that calls run (`initializer(model_bytes)` builds
        it when given)."""
        data = self.model_proto.SerializeToString()
        if initializer is not None:
            self._session = initializer(data)
            return
        import onnxruntime
        self._session = onnxruntime.InferenceSession(data,
                                                     providers=["CPUExecutionProvider"])

    def release(self) -> None:
        """Drop the inference session (it is made again on the next call)."""
        self._session = None

    def __call__(self, *args, **kwargs) -> list:
        """Run the model in onnxruntime on the inputs the exported model took (tensors, in
        the same order, keyword arguments after the positional ones); returns ember tensors."""
        from .._ops.creation import from_numpy
        from .._tensor import Tensor
        from ..jit.tracer import flatten
        if self._session is None:
            self.initialize_inference_session()
        flat, _ = flatten(tuple(args) + tuple(kwargs.values()), "input")
        names = [i.name for i in self._session.get_inputs()]
        if len(flat) != len(names):
            raise ValueError(f"ONNXProgram: the model takes {len(names)} inputs {names}, got "
                             f"{len(flat)}")
        feeds = {name: np.asarray(t.detach().numpy() if isinstance(t, Tensor) else t)
                 for name, t in zip(names, flat)}
        return [from_numpy(o) for o in self._session.run(None, feeds)]


def add_initializers_as_inputs(proto) -> None:
    """List every initializer of `proto` as a graph input too (a runtime may then override
    the weights), as torch's keep_initializers_as_inputs does."""
    from onnx import helper
    proto.graph.input.extend(helper.make_tensor_value_info(t.name, t.data_type, list(t.dims))
                             for t in proto.graph.initializer)
