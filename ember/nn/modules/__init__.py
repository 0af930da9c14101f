"""The layer families, one module each; each lists its public classes in `__all__`."""
from .activation import *
from .adaptive import *
from .attention import *
from .channelshuffle import *
from .container import Container, ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from .conv import *
from .distance import *
from .dropout import *
from .flatten import *
from .fold import *
from .fractional_pooling import *
from .lazy import LazyModuleMixin
from .linear import Bilinear, Identity, LazyLinear, Linear
from .loss import *
from .module import Module
from .normalization import *
from .padding import *
from .pixelshuffle import *
from .pooling import *
from .rnn import *
from .sparse import *
from .sync_batchnorm import *
from .transformer import *
from .upsampling import *
