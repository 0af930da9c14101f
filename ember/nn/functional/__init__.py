"""ember.nn.functional: the functional forms of the layers, written over registry ops.

One module per family; each lists its public functions in `__all__`.
"""
from ._activation import *
from ._attention import *
from ._conv import *
from ._distance import *
from ._dropout import *
from ._fractional_pool import *
from ._linear import *
from ._loss import *
from ._norm import *
from ._sparse import *
