"""Small models and functions the JIT tests trace."""
import ember
from ember import nn


class MLP(nn.Module):
    """Linear -> relu -> Linear -> relu -> Linear."""

    def __init__(self, sizes=(8, 16, 12, 4)):
        super().__init__()
        self.fc1 = nn.Linear(sizes[0], sizes[1])
        self.fc2 = nn.Linear(sizes[1], sizes[2])
        self.fc3 = nn.Linear(sizes[2], sizes[3])

    def forward(self, x):
        return self.fc3(ember.relu(self.fc2(ember.relu(self.fc1(x)))))


class Stats(nn.Module):
    """Updates buffers in place, like BatchNorm's running statistics."""

    def __init__(self):
        super().__init__()
        self.register_buffer("running", ember.zeros(3))
        self.register_buffer("count", ember.tensor(0))

    def forward(self, x):
        self.running.mul_(0.9).add_(x.mean(0) * 0.1)
        self.count += 1
        return x - self.running


def gelu_chain(x, w, b):
    """gelu(x * w + b), the erf form, from ember ops."""
    y = x * w + b
    return 0.5 * y * (1 + ember.erf(y / 2 ** 0.5))
