import pytest
import torch


@pytest.fixture(autouse=True)
def _fresh_torch_caches():
    """torch keeps compiled code per code object: each test starts from none."""
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()
