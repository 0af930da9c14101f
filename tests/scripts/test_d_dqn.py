"""DQN on a toy chain: a replay buffer of tensors, epsilon-greedy with argmax, q.gather of the taken
actions, max(1)[0] and .max(dim=1).values targets, smooth_l1_loss, clip_grad_value_, and a target
network synced with load_state_dict(copy.deepcopy(...)).
Run with torch and with ember from torch's initial weights; step-by-step results must agree."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import copy
import random
from collections import deque

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
random.seed(0)
N_STATES, N_ACT, gamma = 5, 2, 0.9


class Chain:
    """Move left/right on a chain; reward 1 at the right end."""

    def reset(self):
        self.pos = 0
        return self.obs()

    def obs(self):
        return torch.nn.functional.one_hot(torch.tensor(self.pos), N_STATES).float()

    def step(self, action):
        self.pos = max(0, min(N_STATES - 1, self.pos + (1 if action == 1 else -1)))
        done = self.pos == N_STATES - 1
        return self.obs(), (1.0 if done else 0.0), done


class QNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(N_STATES, 24), nn.ReLU(), nn.Linear(24, N_ACT))

    def forward(self, x):
        return self.net(x)


class Replay:
    def __init__(self, capacity):
        self.memory = deque(maxlen=capacity)

    def push(self, *transition):
        self.memory.append(transition)

    def sample(self, idx):
        s, a, r, s2, d = zip(*[self.memory[i] for i in idx])
        return (torch.stack(s), torch.tensor(a, dtype=torch.long), torch.tensor(r),
                torch.stack(s2), torch.tensor(d, dtype=torch.float32))

    def __len__(self):
        return len(self.memory)


policy = sync(QNet())
target = QNet()
target.load_state_dict(copy.deepcopy(policy.state_dict()))
target.eval()
for p in target.parameters():
    p.requires_grad_(False)
optimizer = torch.optim.RMSprop(policy.parameters(), lr=1e-2)
memory = Replay(200)
env = Chain()
rng = np.random.default_rng(0)
losses, qvals = [], []
state = env.reset()
for step in range(120):
    eps = max(0.05, 1.0 - step / 60)
    if rng.random() < eps:
        action = int(rng.integers(N_ACT))
    else:
        with torch.no_grad():
            action = policy(state.unsqueeze(0)).argmax(dim=1).item()
    nxt, reward, done = env.step(action)
    memory.push(state, action, reward, nxt, done)
    state = env.reset() if done else nxt
    if len(memory) < 16:
        continue
    s, a, r, s2, d = memory.sample(rng.integers(0, len(memory), 16).tolist())
    q = policy(s).gather(1, a.unsqueeze(1)).squeeze(1)
    with torch.no_grad():
        next_q = target(s2).max(1)[0]
        double = target(s2).gather(1, policy(s2).max(dim=1).indices.unsqueeze(1)).squeeze(1)
        assert torch.equal(target(s2).max(dim=1).values, next_q)
        expected = r + gamma * next_q * (1 - d)
    loss = F.smooth_l1_loss(q, expected)
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_value_(policy.parameters(), 0.5)
    optimizer.step()
    losses.append(loss.item())
    qvals.append(double.mean().item())
    if step % 20 == 0:
        target.load_state_dict(copy.deepcopy(policy.state_dict()))

with torch.no_grad():
    table = policy(torch.eye(N_STATES))
out.update(losses=losses, qvals=qvals, table=table.numpy(),
           greedy=table.argmax(1).tolist(), buffer=len(memory))
'''


def test_dqn_program(tmp_path):
    theirs, ours = run_both(PROGRAM, tmp_path)
    close(theirs["losses"], ours["losses"], rtol=1e-4, atol=1e-6)
    close(theirs["qvals"], ours["qvals"], rtol=1e-4, atol=1e-6)
    close(theirs["table"], ours["table"], rtol=1e-4, atol=1e-5)
    assert theirs["greedy"] == ours["greedy"]
    assert theirs["buffer"] == ours["buffer"]
