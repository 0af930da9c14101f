"""ember.version: torch.version's build facts, which scripts print or test before using a GPU.

ember is not built against CUDA, ROCm or XPU toolkits (it reaches GPUs through CuPy), so those
versions are None, as in a CPU build of torch.

    >>> import ember
    >>> ember.version.cuda is None and ember.version.__version__ == ember.__version__
    True
"""
from . import __version__  # noqa: F401

cuda = None
hip = None
rocm = None
xpu = None
debug = False
git_version = "unknown"
