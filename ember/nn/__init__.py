"""ember.nn: modules, parameters, functional forms, initialization."""
from . import functional, init  # noqa: F401
from .modules import *  # noqa: F401,F403
from .parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401
