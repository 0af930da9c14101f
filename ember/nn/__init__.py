"""ember.nn: modules, parameters, functional forms, initialization."""
from importlib import import_module as _import_module

from . import functional, grad, init, parallel, utils
from .modules import *
from .parallel import DataParallel
from .modules import LazyModuleMixin, Module, ModuleDict, ModuleList, ParameterDict, \
    ParameterList, Sequential
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter

# torch.nn.attention (kernel choice for scaled_dot_product_attention); bound last, as the star
# import above also brings ember.nn.modules.attention (the attention layers) under this name
attention = _import_module(".attention", __name__)
