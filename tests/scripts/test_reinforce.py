"""REINFORCE on a toy gridworld written in Python, run with torch and with ember."""
from tests.scripts._harness import close, run_both

PROGRAM = '''
import random

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.distributions import Categorical

torch.manual_seed(0)
random.seed(0)


class Corridor:
    """Walk left/right on 6 cells; reward 1 at the right end, small cost per step."""

    def __init__(self, n=6):
        self.n = n

    def reset(self):
        self.pos = 0
        return self.obs()

    def obs(self):
        return [1.0 if i == self.pos else 0.0 for i in range(self.n)]

    def step(self, action):
        self.pos = max(0, min(self.n - 1, self.pos + (1 if action == 1 else -1)))
        done = self.pos == self.n - 1
        return self.obs(), (1.0 if done else -0.01), done


class Policy(nn.Module):
    def __init__(self, n_obs, n_act):
        super().__init__()
        self.fc1 = nn.Linear(n_obs, 32)
        self.fc2 = nn.Linear(32, n_act)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


env = Corridor()
policy = sync(Policy(6, 2))
optimizer = torch.optim.Adam(policy.parameters(), lr=1e-2)
gamma = 0.99

# deterministic check at the shared starting point
state = torch.tensor(env.reset())
dist = Categorical(logits=policy(state))
out["probs0"] = dist.probs.tolist()
out["entropy0"] = dist.entropy().item()
out["log_prob0"] = dist.log_prob(torch.tensor(1)).item()
returns = []
R = 0.0
for r in reversed([-0.01, -0.01, 1.0]):
    R = r + gamma * R
    returns.insert(0, R)
returns = torch.tensor(returns)
out["norm_returns"] = ((returns - returns.mean()) / (returns.std() + 1e-8)).tolist()

lengths = []
for episode in range(60):
    state = env.reset()
    log_probs, entropies, rewards = [], [], []
    for t in range(50):
        logits = policy(torch.tensor(state, dtype=torch.float32))
        dist = Categorical(logits=logits)
        action = dist.sample()
        log_probs.append(dist.log_prob(action))
        entropies.append(dist.entropy())
        state, reward, done = env.step(action.item())
        rewards.append(reward)
        if done:
            break
    lengths.append(len(rewards))
    R, returns = 0.0, []
    for r in reversed(rewards):
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + 1e-8)
    loss = -(torch.stack(log_probs) * returns).sum() - 0.01 * torch.stack(entropies).sum()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if episode % 20 == 0:
        print(f"episode {episode}: length {len(rewards)} loss {loss.item():.3f}")

with torch.no_grad():
    probs = F.softmax(policy(torch.eye(6)), dim=-1)
out["right_prob"] = probs[:, 1].mean().item()
out["early"] = sum(lengths[:10]) / 10
out["late"] = sum(lengths[-10:]) / 10
'''


def test_reinforce_learns_like_torch(tmp_path):
    ref, got = run_both(PROGRAM, tmp_path)
    close(ref["probs0"], got["probs0"])
    close(ref["entropy0"], got["entropy0"])
    close(ref["log_prob0"], got["log_prob0"])
    close(ref["norm_returns"], got["norm_returns"])
    for result in (ref, got):
        assert result["right_prob"] > 0.6
        assert result["late"] < result["early"]
