"""A compact PPO (asymmetric actor-critic, GAE with time-out bootstrapping) for the motion experts.

Why our own and not rsl-rl-lib (the mjlab/IsaacLab PPO): the expert's action is ``teacher + residual``
where the teacher is an external adapter (TWIST2 ONNX with its own history), not a torch module an
rsl-rl ``ActorCritic`` could hold; our env is numpy/MuJoCo-rollout with torch only at the boundary; and a
resumed run must give the SAME next update as an uninterrupted one, which needs every random stream
(sampling, minibatches, normaliser) in the checkpoint. The algorithm is the same as rsl-rl's (clipped
surrogate, clipped value loss, entropy bonus, per-batch advantage normalisation, grad clip, optional
KL-adaptive learning rate), in ~250 lines without new dependencies.

Hyper-parameters (:class:`PPOConfig`) default to the paper's (supplementary Table 2): gamma 0.97,
lambda 0.95, clip 0.2, lr 3e-4, entropy 0.01, Adam, actor and critic [512, 256, 128].

Shapes: T steps per env per iteration, N envs, A = 29 actions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from hgpt_core.errors import HgptError, require_positive
from hgpt_core.g1 import NUM_JOINTS


@dataclass(frozen=True)
class PPOConfig:
    """PPO settings (paper Table 2 where it gives them; rsl-rl's defaults elsewhere)."""

    gamma: float = 0.97
    lam: float = 0.95
    clip: float = 0.2
    lr: float = 3e-4
    entropy_coef: float = 0.01
    value_coef: float = 1.0
    epochs: int = 5
    minibatches: int = 4
    max_grad_norm: float = 1.0
    steps_per_env: int = 24
    """Control steps each env collects per iteration (T)."""
    actor_hidden: tuple[int, ...] = (512, 256, 128)
    critic_hidden: tuple[int, ...] = (512, 256, 128)
    init_std: float | None = None
    """Initial action std in raw action units (None: 0.1 for a residual, 1.0 from scratch)."""
    desired_kl: float | None = 0.01
    """KL-adaptive learning rate from ``lr`` (rsl-rl's default 'adaptive' schedule: /1.5 above 2x, x1.5 below
    half this KL); None keeps the paper's lr fixed. A residual's small std makes a fixed lr overshoot."""
    clip_value: bool = True
    normalize_obs: bool = True
    """Running mean/std normalisation of actor and critic inputs (updated after each iteration's update)."""

    def __post_init__(self) -> None:
        """Refuse values PPO cannot run with (HgptError naming the ``--ppo.*`` option), before any loading."""
        positive = {
            "lr": self.lr, "clip": self.clip, "epochs": self.epochs, "minibatches": self.minibatches,
            "max-grad-norm": self.max_grad_norm, "steps-per-env": self.steps_per_env,
            "init-std": self.init_std, "desired-kl": self.desired_kl,
        }  # fmt: skip
        require_positive(positive, prefix="--ppo.")
        for name, v in {"entropy-coef": self.entropy_coef, "value-coef": self.value_coef}.items():
            if not 0 <= v < math.inf:
                raise HgptError(f"--ppo.{name} {v} must be >= 0")
        for name, v in {"gamma": self.gamma, "lam": self.lam}.items():
            if not 0 <= v <= 1:
                raise HgptError(f"--ppo.{name} {v} must be in [0, 1]")
        for name, sizes in {"actor-hidden": self.actor_hidden, "critic-hidden": self.critic_hidden}.items():
            if any(n < 1 for n in sizes):
                raise HgptError(f"--ppo.{name} {' '.join(map(str, sizes))}: each layer needs >= 1 unit")


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    done: torch.Tensor,
    gamma: float,
    lam: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation with time-outs bootstrapped and falls not.

    Args:
        rewards, values: r_t and V(s_t), (T, N).
        next_values: V of the state step t ENDED in (before any auto-reset; for an env that went on, the
            next step's state), (T, N).
        terminated: the episode ended in a fall (no bootstrap), (T, N) bool.
        done: the episode ended (fall or time-out): the trace is cut, (T, N) bool.

    Returns:
        advantages, returns (= advantages + values), each (T, N).
    """
    term, cut = terminated.float(), done.float()
    delta = rewards + gamma * (1.0 - term) * next_values - values
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        last = delta[t] + gamma * lam * (1.0 - cut[t]) * last
        adv[t] = last
    return adv, adv + values


class RunningNorm(nn.Module):
    """Running mean/variance of inputs (buffers: saved with the model); identity until updated."""

    mean: torch.Tensor
    var: torch.Tensor
    count: torch.Tensor

    def __init__(self, dim: int, eps: float = 1e-2) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("var", torch.ones(dim))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / torch.sqrt(self.var + self.eps)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge the statistics of a batch (..., dim) (parallel-variance formula)."""
        x = x.reshape(-1, x.shape[-1]).double()
        n, m, v = x.shape[0], x.mean(0), x.var(0, unbiased=False)
        c = self.count
        tot = c + n
        delta = m - self.mean.double()
        new_mean = self.mean.double() + delta * n / tot
        m2 = self.var.double() * c + v * n + delta.square() * c * n / tot
        self.mean.copy_(new_mean.float())
        self.var.copy_((m2 / tot).float())
        self.count.copy_(tot)


def mlp(inp: int, hidden: tuple[int, ...], out: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [nn.Linear(inp, h), nn.ELU()]
        inp = h
    layers.append(nn.Linear(inp, out))
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Gaussian actor on the deployable observation, critic on the privileged one (asymmetric).

    ``residual=True``: the action mean is ``base + actor(obs)`` with the actor's last layer at zero, so at
    initialisation the mean IS the base (the teacher's raw action). ``residual=False``: ``actor(obs)``.

    Args:
        actor_in, critic_in: Input widths.
        num_actions: A.
        hidden_actor, hidden_critic: Hidden layer widths.
        init_std: Initial per-action std.
        residual: See above.
        normalize: Running input normalisation.
    """

    def __init__(
        self,
        actor_in: int,
        critic_in: int,
        num_actions: int = NUM_JOINTS,
        hidden_actor: tuple[int, ...] = (512, 256, 128),
        hidden_critic: tuple[int, ...] = (512, 256, 128),
        init_std: float = 1.0,
        residual: bool = False,
        normalize: bool = True,
    ) -> None:
        super().__init__()
        self.residual, self.normalize = residual, normalize
        self.actor = mlp(actor_in, tuple(hidden_actor), num_actions)
        self.critic = mlp(critic_in, tuple(hidden_critic), 1)
        if residual:
            last = self.actor[-1]
            assert isinstance(last, nn.Linear)
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        self.log_std = nn.Parameter(torch.full((num_actions,), float(torch.log(torch.tensor(init_std)))))
        self.actor_norm = RunningNorm(actor_in)
        self.critic_norm = RunningNorm(critic_in)

    def mean(self, actor_obs: torch.Tensor, base: torch.Tensor | None = None) -> torch.Tensor:
        x = self.actor_norm(actor_obs) if self.normalize else actor_obs
        out = self.actor(x)
        if self.residual:
            assert base is not None, "a residual actor needs the base (teacher) action"
            out = base + out
        return out

    def value(self, critic_obs: torch.Tensor) -> torch.Tensor:
        x = self.critic_norm(critic_obs) if self.normalize else critic_obs
        return self.critic(x).squeeze(-1)

    def dist(self, actor_obs: torch.Tensor, base: torch.Tensor | None = None) -> torch.distributions.Normal:
        mu = self.mean(actor_obs, base)
        return torch.distributions.Normal(mu, self.log_std.exp().expand_as(mu))

    def update_norms(self, actor_obs: torch.Tensor, critic_obs: torch.Tensor) -> None:
        if self.normalize:
            self.actor_norm.update(actor_obs)
            self.critic_norm.update(critic_obs)


class Rollout:
    """One iteration's experience, (T, N, ...) tensors filled step by step."""

    def __init__(
        self, t: int, n: int, actor_dim: int, critic_dim: int, num_actions: int = NUM_JOINTS
    ) -> None:
        z = lambda *s: torch.zeros(t, n, *s)  # noqa: E731
        self.actor_obs, self.critic_obs = z(actor_dim), z(critic_dim)
        self.base, self.actions = z(num_actions), z(num_actions)
        self.logp, self.values, self.rewards, self.next_values = z(), z(), z(), z()
        self.terminated = torch.zeros(t, n, dtype=torch.bool)
        self.done = torch.zeros(t, n, dtype=torch.bool)
        self.step = 0

    def add(self, **kw: torch.Tensor) -> None:
        for k, v in kw.items():
            getattr(self, k)[self.step] = v
        self.step += 1


class PPO:
    """PPO updates of an :class:`ActorCritic` (Adam); ``generator`` draws the minibatch permutations."""

    def __init__(self, model: ActorCritic, cfg: PPOConfig, generator: torch.Generator) -> None:
        self.model, self.cfg, self.gen = model, cfg, generator
        self.lr = cfg.lr
        self.opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def update(self, ro: Rollout) -> dict[str, float]:
        """Advantages, then ``epochs`` x ``minibatches`` clipped-surrogate steps; returns loss statistics."""
        c, m = self.cfg, self.model
        adv, ret = gae(ro.rewards, ro.values, ro.next_values, ro.terminated, ro.done, c.gamma, c.lam)
        flat = lambda x: x.reshape(-1, *x.shape[2:])  # noqa: E731
        a_obs, c_obs, base, act = flat(ro.actor_obs), flat(ro.critic_obs), flat(ro.base), flat(ro.actions)
        old_logp, old_v, adv, ret = flat(ro.logp), flat(ro.values), flat(adv), flat(ret)
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        total = a_obs.shape[0]
        mb = max(1, total // c.minibatches)
        stats = {"loss/surrogate": 0.0, "loss/value": 0.0, "loss/entropy": 0.0, "kl": 0.0, "clip_frac": 0.0}
        n_mb = 0
        for _ in range(c.epochs):
            perm = torch.randperm(total, generator=self.gen)
            for k in range(c.minibatches):
                idx = perm[k * mb : (k + 1) * mb]
                d = m.dist(a_obs[idx], base[idx] if m.residual else None)
                logp = d.log_prob(act[idx]).sum(-1)
                ent = d.entropy().sum(-1).mean()
                ratio = torch.exp(logp - old_logp[idx])
                surr = -torch.min(ratio * adv[idx], ratio.clamp(1 - c.clip, 1 + c.clip) * adv[idx]).mean()
                v = m.value(c_obs[idx])
                if c.clip_value:
                    v_clip = old_v[idx] + (v - old_v[idx]).clamp(-c.clip, c.clip)
                    v_loss = torch.max((v - ret[idx]).square(), (v_clip - ret[idx]).square()).mean()
                else:
                    v_loss = (v - ret[idx]).square().mean()
                loss = surr + c.value_coef * v_loss - c.entropy_coef * ent
                with torch.no_grad():
                    kl = (old_logp[idx] - logp).mean()  # k1 estimator of KL(old || new)
                if c.desired_kl is not None:
                    if kl > 2.0 * c.desired_kl:
                        self.lr = max(1e-5, self.lr / 1.5)
                    elif 0.0 < kl < 0.5 * c.desired_kl:
                        self.lr = min(1e-2, self.lr * 1.5)
                    for g in self.opt.param_groups:
                        g["lr"] = self.lr
                self.opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(m.parameters(), c.max_grad_norm)
                self.opt.step()
                stats["loss/surrogate"] += surr.item()
                stats["loss/value"] += v_loss.item()
                stats["loss/entropy"] += ent.item()
                stats["kl"] += float(kl)
                stats["clip_frac"] += float(((ratio - 1).abs() > c.clip).float().mean())
                n_mb += 1
        out = {k: v / n_mb for k, v in stats.items()}
        out["lr"] = self.lr
        out["action_std"] = m.log_std.detach().exp().mean().item()
        m.update_norms(a_obs, c_obs)
        return out

    def state_dict(self) -> dict:
        return {"opt": self.opt.state_dict(), "lr": self.lr, "gen": self.gen.get_state()}

    def load_state_dict(self, s: dict) -> None:
        self.opt.load_state_dict(s["opt"])
        self.lr = s["lr"]
        for g in self.opt.param_groups:
            g["lr"] = self.lr
        self.gen.set_state(s["gen"])
