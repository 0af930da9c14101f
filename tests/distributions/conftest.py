"""torch.compile, once used in a process, turns torch's distribution argument validation off
for good (torch._dynamo's TorchPatcher); the oracle checks here need it on, whichever tests
ran before in the same worker."""
import pytest
import torch


@pytest.fixture(autouse=True)
def _torch_validates_arguments():
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(True)
    yield
    torch.distributions.Distribution.set_default_validate_args(before)
