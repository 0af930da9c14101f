"""ember.nn: modules, parameters, functional forms, initialization."""
from . import attention, functional, grad, init, parallel, utils
from .modules import *
from .parallel import DataParallel
from .modules import LazyModuleMixin, Module, ModuleDict, ModuleList, ParameterDict, \
    ParameterList, Sequential
from .parameter import Buffer, Parameter, UninitializedBuffer, UninitializedParameter
